"""Group bookings: corporate and group outings under one reference and organiser.

A group is created with a unique reference, its organiser and (for corporate
bookings) the company's customer profile; bookings join it through
:attr:`~bookingcore.services.bookings.BookingRequest.group_id`. The group's
totals add up its bookings (those the caller may see); cancelling the group
cancels every booking in it in one unit of work (only for a caller who may
cancel each); confirmations go to the organiser and to each booking's
primary contact.

.. versionadded:: 0.2
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from uuid import UUID

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import clean_text, parse_choice
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.bookings import Booking
from bookingcore.domain.communications import (
    TEMPLATE_FIELDS,
    Channel,
    Communication,
    CommunicationType,
)
from bookingcore.domain.customers import Customer
from bookingcore.domain.groups import BookingGroup, BookingGroupStatus
from bookingcore.domain.idempotency import caller_key
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.queries import BookingFilter, Page, PageRequest, every_item
from bookingcore.domain.values import (
    BookingGroupId,
    BookingId,
    CommunicationId,
    CustomerId,
    Money,
)
from bookingcore.errors import (
    ConflictError,
    DeliveryError,
    DuplicateError,
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import (
    ServiceContext,
    Transaction,
    claim_creation,
    claim_request,
    fingerprint,
    principal_key,
)
from bookingcore.services._settlement import balance_due, closed_to_payment, paid_for
from bookingcore.services.automations import Automations
from bookingcore.services.bookings import BookingService
from bookingcore.services.communications import CommunicationService
from bookingcore.services.customers import CustomerService

__all__ = ["GroupService", "GroupTotals"]

_ENTITY = "booking group"

#: How many times :meth:`GroupService.send_confirmations` runs its unit of work
#: when a booking's automatic confirmation is committed under it.
_CONFIRMING_ATTEMPTS = 3


@attrs.frozen
class GroupTotals:
    """A group's figures, over its bookings that are not cancelled and that the
    principal who asked may see (:meth:`GroupService.totals`).

    ``amount`` adds up the bookings' totals, ``paid`` what was taken for them
    less refunds, ``due`` each booking's balance (what one booking was paid over
    its total does not pay another's); each in the group's currency (its
    bookings': a booking priced in another currency cannot join), ``None``
    while the group has no booking. Bookings closed to payment (cancelled, or
    ended without seats: travel's ``refunded``) are left out and counted in
    ``cancelled_bookings``.

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       Refunded bookings are left out like cancelled ones; ``due`` adds up the
       bookings' balances; only the bookings the principal who asked may see count.
    """

    group: BookingGroup
    bookings: int
    travelers: int
    amount: Money | None
    paid: Money | None
    due: Money | None
    cancelled_bookings: int = 0


class GroupService:
    """Create, find, total, confirm and cancel booking groups.

    Who sees what (``docs/changing-bookings.md``):

    * the group itself: staff who see every booking (and the system) read every
      group; a customer the groups they organise (or whose company they are); a
      partner those whose organiser or company it created. Anyone else (a
      participant who is neither, an advisor, a supplier's user) gets
      :class:`~bookingcore.errors.NotFoundError`;
    * its bookings and totals: of a group it sees, each principal gets only the
      bookings it may see anywhere (:func:`~bookingcore.domain.policy.scope_bookings`):
      staff every one, a customer their own, a partner those it made or brought.
      A participant reads their own booking through
      :meth:`~bookingcore.services.BookingService.list` with
      ``BookingFilter(group_id=...)``;
    * cancelling: staff who change every booking, the organiser, or the partner
      that created the organiser, and only while every booking of the group that
      can still be cancelled is one the caller may cancel.

    Creating takes the same rights as changing the organiser's bookings.

    ``automations`` are the rules of the core's automatic messages (the
    defaults when not given): they say which statuses confirm a booking, so a
    group's confirmation and a booking's automatic confirmation are one message
    (:meth:`send_confirmations`).

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       A group's bookings and totals cover only the bookings the caller may
       see; cancelling a group that holds open bookings the caller may not
       cancel is refused without naming them.
    .. versionchanged:: 0.4
       ``automations``.
    """

    def __init__(
        self,
        context: ServiceContext,
        bookings: BookingService,
        communications: CommunicationService,
        *,
        automations: Automations | None = None,
    ) -> None:
        self._ctx = context
        self._bookings = bookings
        self._communications = communications
        self._automations = automations or Automations()

    def create(
        self,
        group_reference: str,
        *,
        organizer_id: CustomerId,
        principal: Principal,
        company_id: CustomerId | None = None,
        group_name: str | None = None,
        total_participants: int | None = None,
        idempotency_key: str | None = None,
    ) -> BookingGroup:
        """Open a group under ``group_reference`` (kept upper-case) for ``organizer_id``.

        A retry with the same ``idempotency_key`` and the same request returns the
        group the first call opened and writes nothing more.

        Raises:
            ValidationError: a malformed reference or name, a participant count
                outside 1 to 100,000, the company and the organiser the same; a
                malformed ``idempotency_key``.
            NotFoundError: the organiser or company is not a customer ``principal`` may see.
            PermissionDeniedError: ``principal`` may not act for the organiser.
            DuplicateError: the reference is taken (by a call with another key or none).
            IdempotencyConflictError: ``idempotency_key`` was used for another
                group or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        """
        key = principal_key(principal, idempotency_key)
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            group = BookingGroup(
                id=BookingGroupId(self._ctx.ids.new_id()),
                group_reference=group_reference,
                organizer_id=organizer_id,
                company_id=company_id,
                group_name=group_name,
                total_participants=total_participants,
                created_at=now,
                updated_at=now,
            )
            if key is not None:
                made, prior = claim_creation(
                    tx.uow,
                    key,
                    "group",
                    now,
                    _asked(group, principal),
                    as_id=BookingGroupId,
                    load=tx.uow.groups.get,
                )
                if prior is not None:
                    return prior  # recognised before the customers are checked (merged since?)
                group = attrs.evolve(group, id=made)
            self._changeable(tx.uow, organizer_id, principal)
            if company_id is not None:
                CustomerService.load_visible(tx.uow, company_id, principal)
            taken = tx.uow.groups.get_by_reference(group.group_reference)
            if taken is not None:
                msg = f"group reference {group.group_reference} is taken"
                raise DuplicateError(msg, entity=_ENTITY, existing_id=None)
            tx.uow.groups.add(group)
            tx.audit(
                principal,
                entity=_ENTITY,
                entity_id=group.id,
                action=AuditAction.CREATED,
                new={
                    "group_reference": group.group_reference,
                    "organizer_id": str(group.organizer_id),
                    "company_id": None if company_id is None else str(company_id),
                    "group_name": group.group_name,
                    "total_participants": group.total_participants,
                },
            )
            tx.commit()
            return group

    # ------------------------------------------------------------------ reading

    def get(self, group_id: BookingGroupId, *, principal: Principal) -> BookingGroup:
        """The group, if ``principal`` may see it.

        Raises:
            NotFoundError: no such group visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            return self._visible(uow, uow.groups.get(group_id), group_id, principal)

    def get_by_reference(self, group_reference: str, *, principal: Principal) -> BookingGroup:
        """The group with this reference (any case), if ``principal`` may see it.

        Raises:
            NotFoundError: no such group visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            found = uow.groups.get_by_reference(group_reference)
            return self._visible(uow, found, group_reference, principal)

    def list(
        self,
        page: PageRequest | None = None,
        *,
        principal: Principal,
        status: BookingGroupStatus | str | None = None,
        customer_id: CustomerId | None = None,
        search: str | None = None,
    ) -> Page[BookingGroup]:
        """Groups newest first: by status, by organiser or company, by text in reference or name.

        A customer sees only their own groups (``customer_id`` is themselves).

        Raises:
            PermissionDeniedError: a customer asking for someone else's groups,
                or a partner or other principal that may not list every group.
        """
        wanted = (
            None
            if status is None
            else parse_choice(BookingGroupStatus, status, "status", what="a group status")
        )
        text = clean_text(search, "search", max_length=100)
        if not principal.has(Permission.VIEW_ALL):
            if principal.kind is not PrincipalKind.CUSTOMER:
                with self._ctx.uow_factory() as uow:
                    if customer_id is None:
                        msg = f"{principal} lists groups one organiser at a time"
                        raise PermissionDeniedError(msg)
                    CustomerService.load_visible(uow, customer_id, principal)
            else:
                own = CustomerId(principal.id)  # type: ignore[arg-type]
                policy.require(customer_id in (None, own), "customers see only their own groups")
                customer_id = own
        with self._ctx.uow_factory() as uow:
            return uow.groups.list(
                page or PageRequest(), status=wanted, customer_id=customer_id, search=text
            )

    def bookings(
        self, group_id: BookingGroupId, page: PageRequest | None = None, *, principal: Principal
    ) -> Page[Booking]:
        """The group's bookings ``principal`` may see, newest first, cancelled ones
        included, a page at a time (pass the page's ``next_cursor`` for older ones).

        The bookings list's own query, filtered by ``BookingFilter(group_id=...)``
        and narrowed as :meth:`~bookingcore.services.BookingService.list` narrows
        it (:func:`~bookingcore.domain.policy.scope_bookings`): staff who see
        everything get every booking, the organiser or the company's contact
        their own, a partner those it made or brought.

        Raises:
            NotFoundError: no such group visible to ``principal``.
            ValidationError: on ``limit`` or ``cursor`` for a bad page.

        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page` (was every booking of the group).

        .. versionchanged:: 0.4
           Only the bookings ``principal`` may see (was every booking of the group).
        """
        with self._ctx.uow_factory() as uow:
            self._visible(uow, uow.groups.get(group_id), group_id, principal)
            query = self._scoped(group_id, principal)
            found = uow.bookings.list(query, page or PageRequest())
        return policy.booking_page_for(principal, found)

    def totals(self, group_id: BookingGroupId, *, principal: Principal) -> GroupTotals:
        """The group's bookings, travelers, amount, paid and due (see :class:`GroupTotals`),
        over the bookings ``principal`` may see (as :meth:`bookings` lists them): the
        organiser's totals are their own bookings', a partner's those of its bookings;
        nobody reads the amounts of bookings they may not see.

        Raises:
            NotFoundError: no such group visible to ``principal``.
            ValidationError: on ``group_id`` (code ``currency_mismatch``) when the
                group's open bookings are in several currencies (only groups stored
                before joining refused other currencies can be).

        .. versionchanged:: 0.4
           Over the bookings ``principal`` may see (was every booking of the group).
        """
        with self._ctx.uow_factory() as uow:
            group = self._visible(uow, uow.groups.get(group_id), group_id, principal)
            counted = 0
            travelers = 0
            cancelled = 0
            amount: Money | None = None
            paid: Money | None = None
            due: Money | None = None
            for booking in self._all_bookings(uow, group_id, principal):
                lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
                if closed_to_payment(lifecycle, booking.status):
                    cancelled += 1
                    continue
                if amount is not None and booking.currency != amount.currency:
                    msg = (
                        f"group {group.group_reference} holds bookings in {amount.currency} "
                        f"and {booking.currency}; its totals have no one currency"
                    )
                    raise ValidationError.single("group_id", msg, "currency_mismatch")
                counted += 1
                travelers += booking.total_travelers
                amount = booking.total if amount is None else amount + booking.total
                settled = paid_for(uow, booking)
                paid = settled if paid is None else paid + settled
                owed = balance_due(lifecycle, booking, settled)
                due = owed if due is None else due + owed
        return GroupTotals(group, counted, travelers, amount, paid, due, cancelled)

    # ------------------------------------------------------------------ changing

    def cancel(
        self,
        group_id: BookingGroupId,
        *,
        principal: Principal,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Sequence[Booking]:
        """Cancel the group and every booking in it that can still be cancelled, all at once.

        One unit of work: either the group and all those bookings are cancelled
        (their seats back, offered to waiting lists) or nothing is. Returns the
        bookings this call cancelled.

        A retry with the same ``idempotency_key`` and the same request (the
        group and ``reason``) returns the bookings the first call cancelled (as
        they are now) and writes nothing more.

        Staff who change every booking cancel any group; the organiser, or the
        partner that created the organiser, only while every booking in it that
        can still be cancelled is theirs to cancel (their own, before it
        starts). Bookings already cancelled or ended are left alone, whoever's.

        Raises:
            NotFoundError: no such group visible to ``principal``.
            PermissionDeniedError: ``principal`` may not act for the organiser, the
                group holds open bookings that are not ``principal``'s to cancel
                (the message names none of them), or one of its own bookings
                has started (customers and partners).
            InvalidTransitionError: the group is cancelled already.
            ValidationError: on ``idempotency_key`` when malformed.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request (another group or reason) or another kind of operation.

        .. versionchanged:: 0.4
           Refuses, naming no booking, when the group holds open bookings
           ``principal`` may not cancel (was a ``NotFoundError`` naming one).
        .. versionchanged:: 0.4
           ``idempotency_key``.
        """
        clean_reason = clean_text(reason, "reason", max_length=500)
        key = principal_key(principal, idempotency_key)
        now = self._ctx.now()
        entry_id = None
        with self._ctx.transaction() as tx:
            found = tx.uow.groups.get(group_id)
            self._visible(tx.uow, found, group_id, principal)
            if key is not None:
                asked = fingerprint(
                    "group_cancel", principal, group_id=group_id, reason=clean_reason
                )
                entry_id, fresh = claim_request(tx.uow, key, "group_cancel", now, asked)
                if not fresh:
                    return self._cancelled_by(tx.uow, group_id, entry_id, principal)
            group = tx.uow.groups.get_for_update(group_id)
            assert group is not None
            organizer = tx.uow.customers.get(group.organizer_id)
            policy.require(
                organizer is not None and policy.can_change_customer(principal, organizer),
                f"{principal} may not cancel group {group.group_reference}",
            )
            open_bookings = self._cancellable(tx.uow, group, principal)
            old = group.status.value
            group.cancel(now=now)
            cancelled: builtins.list[Booking] = []
            for booking in open_bookings:
                done = self._bookings.cancel_within(
                    tx, booking.id, principal=principal, reason=clean_reason
                )
                if done is not None:
                    cancelled.append(done)
            tx.audit(
                principal,
                entity=_ENTITY,
                entity_id=group.id,
                action=AuditAction.STATUS_CHANGED,
                old={"status": old},
                new={
                    "status": group.status.value,
                    "bookings_cancelled": len(cancelled),
                    "booking_ids": [str(b.id) for b in cancelled],
                },
                reason=clean_reason,
                entry_id=entry_id,
            )
            tx.commit()
        return policy.bookings_for(principal, cancelled)

    @staticmethod
    def _cancelled_by(
        uow: UnitOfWork, group_id: BookingGroupId, entry_id: UUID, principal: Principal
    ) -> Sequence[Booking]:
        """The bookings the keyed cancellation whose audit entry is ``entry_id`` cancelled."""
        for entry in uow.audit.list_for(_ENTITY, group_id):
            if entry.id == entry_id:
                ids = entry.new_values.get("booking_ids", ())
                found = [uow.bookings.get(BookingId(UUID(str(i)))) for i in ids]
                return policy.bookings_for(principal, [b for b in found if b is not None])
        return []

    def send_confirmations(
        self,
        group_id: BookingGroupId,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> Sequence[Communication]:
        """Confirm the group: a summary to the organiser, a confirmation to each booking's
        primary contact (their phone, by SMS, when the traveler has one; else the
        booking's customer). Bookings that are cancelled or refunded get none.

        A booking's confirmation is one message, whoever sends it: the one this
        call sends is the booking's latest confirmation, or its first when the
        booking is not confirmed yet (``pending``), and the automatic
        confirmation of the booking's move to a confirmed status
        (:class:`~bookingcore.services.automations.Automations`) is that same
        message. Both log it under one dedupe key
        (:func:`~bookingcore.services.communications.confirmation_key`), so:

        * a booking whose confirmation is logged already (sent, or pending) gets
          nothing more from this call; one whose confirmation failed gets it
          again (the same record);
        * a booking confirmed after this call is not confirmed a second time;
          one confirmed again later (back from a hold) gets its new confirmation;
        * when this call and the dispatcher's automatic message log the same
          confirmation at once, storage keeps one; this call's unit of work runs
          again and finds it.

        Every message is logged before it is sent; one that fails is logged as
        failed and the others still go out, as does one that cannot be made (a
        confirmation too long for SMS, a participant with no address: logged
        failed with the reason, ``retryable`` False). Returns the organiser's summary and
        each booking's confirmation: the one this call sent, or the one logged
        before, as it is now. An audit entry on the group (``updated``,
        ``confirmations``: the ids of the messages) records the sending.

        A call without a key sends the organiser a new summary, and each
        participant only what the rules above leave to send. A retry with the
        same ``idempotency_key`` and the same request (the group) returns the
        messages the first call listed, as they are now (one that failed stays
        failed), and neither logs nor sends anything more.

        Raises:
            NotFoundError: no such group visible to ``principal``.
            PermissionDeniedError: ``principal`` may not change every booking.
            ValidationError: on ``idempotency_key`` when malformed.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``; the audit entry.
        .. versionchanged:: 0.4
           A confirmation that cannot be made is logged failed; before, it made
           the whole call a ``ValidationError``, nothing sent.
        .. versionchanged:: 0.4
           A participant whose booking's confirmation was logged (by its
           automatic message, or an earlier call) is not sent another; the
           automatic confirmation of a booking this call confirmed sends nothing.
        """
        policy.require(
            principal.has(Permission.CHANGE_ALL), f"{principal} may not send group confirmations"
        )
        key = principal_key(principal, idempotency_key)
        totals = self.totals(group_id, principal=principal)
        for attempt in range(_CONFIRMING_ATTEMPTS):
            try:
                logged, to_send, replayed = self._log_confirmations(totals, principal, key)
                break
            except IdempotencyConflictError:
                raise
            except ConflictError:
                # A booking's confirmation was committed by its automatic message
                # between our read and our commit: run again, and find it.
                if attempt + 1 == _CONFIRMING_ATTEMPTS:
                    raise
        if replayed is not None:
            return replayed
        sent: builtins.list[Communication] = []
        for communication_id in logged:
            if communication_id in to_send:
                try:
                    sent.append(self._communications.deliver_logged(communication_id))
                    continue
                except DeliveryError:
                    pass  # logged as failed: answered as it is now
            with self._ctx.uow_factory() as uow:
                stored = uow.communications.get(communication_id)
            assert stored is not None
            sent.append(stored)
        return sent

    def _log_confirmations(
        self, totals: GroupTotals, principal: Principal, key: str | None
    ) -> tuple[
        builtins.list[CommunicationId],
        builtins.set[CommunicationId],
        builtins.list[Communication] | None,
    ]:
        """One unit of work of :meth:`send_confirmations`: the ids of the messages
        it lists, those of them to send, and the first call's messages instead
        when ``key`` was used already."""
        group = totals.group
        logged: builtins.list[CommunicationId] = []
        to_send: builtins.set[CommunicationId] = set()
        entry_id = None
        with self._ctx.transaction() as tx:
            if key is not None:
                asked = fingerprint("group_confirmation", principal, group_id=group.id)
                entry_id, fresh = claim_request(
                    tx.uow, key, "group_confirmation", self._ctx.now(), asked
                )
                if not fresh:
                    return [], set(), self._confirmations_by(tx.uow, group.id, entry_id, key)
            organizer = tx.uow.customers.get(group.organizer_id)
            assert organizer is not None
            summary = self._log_group_summary(tx, organizer, totals, principal)
            logged.append(summary.id)
            to_send.add(summary.id)
            for booking in self._all_bookings(tx.uow, group.id):
                lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
                if closed_to_payment(lifecycle, booking.status):
                    continue
                primary = tx.uow.travelers.get(booking.primary_traveler.traveler_id)
                phone = primary.phone if primary is not None else None
                history = tx.uow.lifecycle_events.list_for_booking(booking.id)
                # Its latest confirmation; its first when it has none yet.
                number = max(1, self._automations.times_confirmed(history))
                message, send = self._communications.log_confirmation(
                    tx,
                    booking,
                    number,
                    principal=principal,
                    channel=Channel.SMS if phone is not None else None,
                    recipient=phone.e164 if phone is not None else None,
                    # One that cannot be made (too long for SMS) is logged failed,
                    # with the reason: the others still go out.
                    log_unsendable=True,
                )
                logged.append(message.id)
                if send:
                    to_send.add(message.id)
            tx.audit(
                principal,
                entity=_ENTITY,
                entity_id=group.id,
                action=AuditAction.UPDATED,
                new={"confirmations": [str(i) for i in logged]},
                entry_id=entry_id,
            )
            tx.commit()
        return logged, to_send, None

    @staticmethod
    def _confirmations_by(
        uow: UnitOfWork, group_id: BookingGroupId, entry_id: UUID, key: str
    ) -> builtins.list[Communication]:
        """The messages the keyed confirmation whose audit entry is ``entry_id`` logged."""
        for entry in uow.audit.list_for(_ENTITY, group_id):
            if entry.id == entry_id:
                ids = entry.new_values.get("confirmations", ())
                found = [uow.communications.get(CommunicationId(UUID(str(i)))) for i in ids]
                return [c for c in found if c is not None]
        raise IdempotencyConflictError(caller_key(key))

    # ------------------------------------------------------------------ helpers

    def _log_group_summary(
        self, tx: Transaction, organizer: Customer, totals: GroupTotals, principal: Principal
    ) -> Communication:
        channel = Channel.EMAIL if organizer.email is not None else Channel.SMS
        template = self._ctx.settings.template(CommunicationType.GROUP_CONFIRMATION, channel)
        group = totals.group
        values = dict.fromkeys(TEMPLATE_FIELDS, "")
        values.update(
            {
                "customer_name": organizer.name or "customer",
                "reference": group.group_reference,
                "status": group.status.value,
                "product": group.group_name or group.group_reference,
                "travelers": str(totals.travelers),
                "seats": str(totals.travelers),
                "total": "" if totals.amount is None else str(totals.amount),
                "business": self._ctx.settings.business_name,
            }
        )
        subject, body = template.render(values)
        communication = Communication(
            id=CommunicationId(self._ctx.ids.new_id()),
            customer_id=organizer.id,
            type=CommunicationType.GROUP_CONFIRMATION,
            channel=channel,
            recipient=organizer.email.value
            if channel is Channel.EMAIL and organizer.email
            else organizer.phone.e164,
            subject=subject,
            content=body,
            template_used=template.name,
            created_at=self._ctx.now(),
            created_by=principal.actor,
            sending_since=self._ctx.now(),
        )
        tx.uow.communications.add(communication)
        return communication

    @staticmethod
    def _scoped(group_id: BookingGroupId, principal: Principal | None) -> BookingFilter:
        """The group's bookings ``principal`` may see (every one, without a principal),
        archived ones included: a group's totals never change when its bookings are archived."""
        query = BookingFilter(group_id=group_id, include_archived=True)
        return query if principal is None else policy.scope_bookings(principal, query)

    @classmethod
    def _all_bookings(
        cls, uow: UnitOfWork, group_id: BookingGroupId, principal: Principal | None = None
    ) -> builtins.list[Booking]:
        query = cls._scoped(group_id, principal)
        return builtins.list(every_item(lambda page: uow.bookings.list(query, page)))

    def _cancellable(
        self, uow: UnitOfWork, group: BookingGroup, principal: Principal
    ) -> builtins.list[Booking]:
        """The group's bookings that can still be cancelled, if ``principal`` may cancel
        every one of them; else a refusal that names none of them."""
        found: builtins.list[Booking] = []
        for booking in self._all_bookings(uow, group.id):
            lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
            target = lifecycle.cancelled
            if target is None or not lifecycle.allows(booking.status, target):
                continue
            found.append(booking)
            if not (
                policy.can_view_booking(principal, booking)
                and policy.can_change_booking(principal, booking)
            ):
                msg = (
                    f"{principal} may not cancel group {group.group_reference}: "
                    "it holds bookings that are not theirs to cancel"
                )
                raise PermissionDeniedError(msg)
        return found

    @staticmethod
    def _changeable(uow: UnitOfWork, customer_id: CustomerId, principal: Principal) -> Customer:
        customer = CustomerService.load_visible(uow, customer_id, principal)
        policy.require(
            policy.can_change_customer(principal, customer),
            f"{principal} may not act for this customer",
        )
        return customer

    @staticmethod
    def _visible(
        uow: UnitOfWork, group: BookingGroup | None, key: object, principal: Principal
    ) -> BookingGroup:
        if group is None:
            raise NotFoundError("booking group", key)
        if principal.has(Permission.VIEW_ALL):
            return group
        for customer_id in (group.organizer_id, group.company_id):
            if customer_id is None:
                continue
            customer = uow.customers.get(customer_id)
            if customer is not None and policy.can_view_customer(principal, customer):
                return group
        raise NotFoundError("booking group", key)


def _asked(group: BookingGroup, principal: Principal) -> str:
    """What a request to open ``group`` asked for (as given, before anything was
    looked up): a keyed retry must ask the same."""
    return fingerprint(
        "group",
        principal,
        group_reference=group.group_reference,
        organizer_id=group.organizer_id,
        company_id=group.company_id,
        group_name=group.group_name,
        total_participants=group.total_participants,
    )
