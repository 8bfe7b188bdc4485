"""Line items of a travel agency's bookings and their suppliers: confirm, reject, ask again, cancel.

Each item of a booking waits for its own supplier. A supplier's users see
and answer only their own supplier's items (never the rest of a booking that
mixes suppliers); staff see every item, a rejected one with the supplier's
reason. When the last live item is confirmed and the booking is at
``payment_confirmed``, it moves on to ``supplier_confirmed`` in the same
transaction; in the other order, a booking whose live items were all
confirmed moves on in the same transaction as its payment (or the move to
``payment_confirmed``), so both orders end at ``supplier_confirmed``; no
move reaches ``supplier_confirmed`` while an item waits
(:meth:`bookingcore.services.BookingService.transition` refuses it).

.. versionadded:: 0.3
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

from bookingcore.domain import policy
from bookingcore.domain._validation import parse_choice
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.bookings import Booking
from bookingcore.domain.events import BookingStatusChanged
from bookingcore.domain.items import BookingItem, BookingItemStatus
from bookingcore.domain.policy import Permission, Principal, PrincipalKind, StaffRole
from bookingcore.domain.queries import Page, PageRequest
from bookingcore.domain.values import BookingId, BookingItemId, SupplierId
from bookingcore.errors import NotFoundError, ValidationError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import (
    ServiceContext,
    Transaction,
    claim_change,
)
from bookingcore.services._settlement import advance_if_paid, paid_for
from bookingcore.services._suppliers import SUPPLIER_CONFIRMED
from bookingcore.services.bookings import BookingService
from bookingcore.services.events import EventDispatcher, HandlerContext

__all__ = ["BookingItemService", "install_supplier_confirmation"]

#: The id an answer's audit entry takes (None without an idempotency key).
_EntryId = UUID | None

#: The handler that moves a paid booking on when its suppliers had all confirmed.
SUPPLIER_CONFIRMATION_HANDLER = "travel.supplier_confirmed_after_payment"


class BookingItemService:
    """Read bookings' line items and record their suppliers' answers.

    .. versionadded:: 0.3
    """

    def __init__(self, context: ServiceContext, bookings: BookingService) -> None:
        self._ctx = context
        self._bookings = bookings

    # ------------------------------------------------------------------ read

    def for_booking(self, booking_id: BookingId, *, principal: Principal) -> Sequence[BookingItem]:
        """The booking's items ``principal`` may see, oldest first (a supplier: its own).

        Raises:
            NotFoundError: no such booking, or none of its items visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            booking = uow.bookings.get(booking_id)
            items = [] if booking is None else uow.booking_items.list_for_booking(booking_id)
        visible = [item for item in items if policy.can_view_item(principal, item, booking)]
        sees_booking = booking is not None and policy.can_view_booking(principal, booking)
        if not visible and not sees_booking:
            raise NotFoundError("booking", booking_id)
        return visible

    def for_supplier(
        self,
        page: PageRequest | None = None,
        *,
        principal: Principal,
        supplier_id: SupplierId | None = None,
        status: BookingItemStatus | str | None = None,
    ) -> Page[BookingItem]:
        """One supplier's items (in ``status``), newest first, a page at a time (pass
        the page's ``next_cursor`` for older ones).

        A supplier's user gets their own supplier's items whatever
        ``supplier_id`` says; staff who see everything name the supplier.

        Raises:
            PermissionDeniedError: a supplier's user asks for another supplier,
                or someone else who does not see everything asks.
            ValidationError: ``supplier_id`` is missing for staff; on ``limit`` or
                ``cursor`` for a bad page.

        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page`, newest first (was every item, oldest
           first).
        """
        wanted = (
            None
            if status is None
            else parse_choice(BookingItemStatus, status, "status", what="an item status")
        )
        if principal.kind is PrincipalKind.STAFF and principal.role is StaffRole.SUPPLIER:
            policy.require(
                principal.supplier_id is not None and supplier_id in (None, principal.supplier_id),
                "suppliers see only their own items",
            )
            assert principal.supplier_id is not None
            supplier_id = principal.supplier_id
        else:
            policy.require(principal.has(Permission.VIEW_ALL), f"{principal} may not list items")
            if supplier_id is None:
                raise ValidationError.single("supplier_id", "name the supplier", "required")
        with self._ctx.uow_factory() as uow:
            return uow.booking_items.list_for_supplier(
                supplier_id, page or PageRequest(), status=wanted
            )

    # ------------------------------------------------------------------ answers

    def confirm(
        self,
        item_id: BookingItemId,
        *,
        principal: Principal,
        supplier_reference: str | None = None,
        idempotency_key: str | None = None,
    ) -> BookingItem:
        """The supplier confirms the item (with its own reference).

        When every live item of the booking is then confirmed and the booking
        is at ``payment_confirmed``, the booking moves to ``supplier_confirmed``.
        A retry with the same ``idempotency_key`` and the same request (the item
        and ``supplier_reference``) returns the item as it is now (confirmed by
        the first call, or moved on since) and writes nothing: no
        ``InvalidTransitionError`` for an item no longer pending.

        Raises:
            NotFoundError: no such item visible to ``principal``.
            PermissionDeniedError: ``principal`` does not answer for its supplier.
            InvalidTransitionError: the item is not pending.
            ValidationError: on ``supplier_reference`` when it is over 255
                characters; a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        """

        def confirm(
            tx: Transaction, item: BookingItem, booking: Booking, entry_id: _EntryId
        ) -> None:
            item.confirm(now=self._ctx.now(), supplier_reference=supplier_reference)
            self._audit(tx, principal, item, "confirmed", entry_id=entry_id)
            self._advance_if_all_confirmed(tx, booking, principal)

        return self._answer(
            "item_confirmation",
            item_id,
            confirm,
            principal=principal,
            idempotency_key=idempotency_key,
            supplier_reference=supplier_reference,
        )

    def reject(
        self,
        item_id: BookingItemId,
        reason: str,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> BookingItem:
        """The supplier turns the item down; staff see ``reason`` on the item.

        A retry with the same ``idempotency_key`` and the same request (the item
        and ``reason``) returns the item as it is now and writes nothing.

        Raises:
            NotFoundError: no such item visible to ``principal``.
            PermissionDeniedError: ``principal`` does not answer for its supplier.
            ValidationError: on ``rejection_reason`` when blank or too long; a
                malformed ``idempotency_key``.
            InvalidTransitionError: the item is not pending.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        """

        def reject(tx: Transaction, item: BookingItem, _: Booking, entry_id: _EntryId) -> None:
            item.reject(reason, now=self._ctx.now())
            self._audit(
                tx, principal, item, "rejected", reason=item.rejection_reason, entry_id=entry_id
            )

        return self._answer(
            "item_rejection",
            item_id,
            reject,
            principal=principal,
            idempotency_key=idempotency_key,
            reason=reason,
        )

    def request_again(
        self,
        item_id: BookingItemId,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> BookingItem:
        """Staff ask the supplier again after a rejection (the item is pending again).

        A retry with the same ``idempotency_key`` and the same item returns the
        item as it is now (answered again since, perhaps) and writes nothing.

        Raises:
            NotFoundError: no such item.
            PermissionDeniedError: ``principal`` does not change everything.
            InvalidTransitionError: the item was not rejected.
            ValidationError: a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        """
        policy.require(principal.has(Permission.CHANGE_ALL), f"{principal} may not re-request")

        def ask(tx: Transaction, item: BookingItem, _: Booking, entry_id: _EntryId) -> None:
            item.request_again(now=self._ctx.now())
            self._audit(tx, principal, item, "requested_again", entry_id=entry_id)

        return self._answer(
            "item_request_again",
            item_id,
            ask,
            principal=principal,
            idempotency_key=idempotency_key,
        )

    def cancel(
        self,
        item_id: BookingItemId,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> BookingItem:
        """Staff cancel an item: it stops counting toward the booking's total.

        If what was paid now covers the lower total, a ``payment_pending``
        booking moves to ``payment_confirmed``, as a capture would. If every
        other live item is confirmed (and one is left) and the booking is at
        ``payment_confirmed``, the booking moves on to ``supplier_confirmed``.
        A retry with the same ``idempotency_key`` and the same item returns the
        cancelled item and writes nothing (no ``InvalidTransitionError``).

        Raises:
            NotFoundError: no such item.
            PermissionDeniedError: ``principal`` does not change everything.
            InvalidTransitionError: the item is cancelled already.
            ValidationError: a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        """
        policy.require(principal.has(Permission.CHANGE_ALL), f"{principal} may not cancel items")

        def cancel(
            tx: Transaction, item: BookingItem, booking: Booking, entry_id: _EntryId
        ) -> None:
            now = self._ctx.now()
            item.cancel(now=now)
            before = booking.total
            booking.recount_items(tx.uow.booking_items.list_for_booking(booking.id), now=now)
            self._audit(tx, principal, item, "cancelled", entry_id=entry_id)
            tx.audit(
                principal,
                entity="booking",
                entity_id=booking.id,
                action=AuditAction.UPDATED,
                old={"total": str(before)},
                new={"total": str(booking.total)},
                reason=f"item {item.description} cancelled",
                booking_id=booking.id,
            )
            # The lower total may be paid already: on to payment_confirmed, as a capture would.
            advance_if_paid(
                self._ctx,
                tx,
                booking,
                paid=paid_for(tx.uow, booking),
                principal=principal,
                note=f"paid in full once item {item.description} was cancelled",
            )
            self._advance_if_all_confirmed(tx, booking, principal)

        return self._answer(
            "item_cancellation",
            item_id,
            cancel,
            principal=principal,
            idempotency_key=idempotency_key,
        )

    # ------------------------------------------------------------------ helpers

    def _answer(
        self,
        operation: str,
        item_id: BookingItemId,
        answer: Callable[[Transaction, BookingItem, Booking, _EntryId], None],
        *,
        principal: Principal,
        idempotency_key: str | None,
        **asked: object,
    ) -> BookingItem:
        """Claim ``idempotency_key`` for ``operation`` on the item (asking ``asked``
        too), let ``answer`` change the item and its booking (with the id its audit
        entry takes) and commit; a retry answers the item as it is now."""
        with self._ctx.transaction() as tx:
            entry_id, fresh = claim_change(
                tx.uow,
                self._ctx.now(),
                idempotency_key,
                operation,
                principal,
                item_id=item_id,
                **asked,
            )
            item, booking = self._answerable(tx.uow, item_id, principal)
            if fresh:
                answer(tx, item, booking, entry_id)
                tx.commit()
            return item

    @staticmethod
    def _answerable(
        uow: UnitOfWork, item_id: BookingItemId, principal: Principal
    ) -> tuple[BookingItem, Booking]:
        """The item and its booking, the booking locked first (the last answer of
        several suppliers at once then sees the others' answers)."""
        found = uow.booking_items.get(item_id)
        if found is None:
            raise NotFoundError("booking item", item_id)
        booking = uow.bookings.get_for_update(found.booking_id)
        item = uow.booking_items.get(item_id)
        if booking is None or item is None or not policy.can_view_item(principal, item, booking):
            raise NotFoundError("booking item", item_id)
        policy.require(
            policy.can_answer_for_item(principal, item),
            f"{principal} may not answer for the supplier of item {item_id}",
        )
        booking.check_live("item")
        return item, booking

    def _advance_if_all_confirmed(
        self, tx: Transaction, booking: Booking, principal: Principal
    ) -> None:
        lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
        if not lifecycle.allows(booking.status, SUPPLIER_CONFIRMED):
            return
        # The rule of advance_if_suppliers_confirmed: a booking left without live items
        # (every one cancelled) has nothing its suppliers confirmed, and stays where it is.
        live = [i for i in tx.uow.booking_items.list_for_booking(booking.id) if not i.is_cancelled]
        if live and all(item.is_confirmed for item in live):
            self._bookings.advance_in(
                tx,
                booking,
                SUPPLIER_CONFIRMED,
                principal=principal,
                note="every supplier confirmed",
            )

    @staticmethod
    def _audit(
        tx: Transaction,
        principal: Principal,
        item: BookingItem,
        what: str,
        *,
        reason: str | None = None,
        entry_id: UUID | None = None,
    ) -> None:
        tx.audit(
            principal,
            entity="booking item",
            entity_id=item.id,
            action=AuditAction.STATUS_CHANGED,
            new={"status": item.status.value, "answer": what},
            reason=reason,
            booking_id=item.booking_id,
            entry_id=entry_id,
        )


def install_supplier_confirmation(events: EventDispatcher, context: ServiceContext) -> None:
    """Subscribe the handler that moves a booking reaching ``payment_confirmed`` on to
    ``supplier_confirmed`` when every live item was confirmed before the payment came.

    No longer needed: the payment (or the move to ``payment_confirmed``)
    moves such a booking on in its own transaction, whatever the dispatch
    mode, and :meth:`BookingItemService.confirm` does it in the other order.
    The handler is kept for hosts that installed it; it re-reads the booking
    under its lock and finds it moved on already, so it changes nothing.

    .. versionadded:: 0.3
    .. versionchanged:: 0.3
       The booking paths do this themselves; installing the handler is optional.
    """

    def handle(event: BookingStatusChanged, handler: HandlerContext) -> None:
        uow = handler.uow
        booking = uow.bookings.get_for_update(event.booking_id)
        if booking is None:
            return
        lifecycle = context.settings.lifecycle(booking.lifecycle)
        if not lifecycle.allows(booking.status, SUPPLIER_CONFIRMED):
            return
        live = [i for i in uow.booking_items.list_for_booking(booking.id) if not i.is_cancelled]
        if not live or not all(item.is_confirmed for item in live):
            return
        raised = booking.move(
            SUPPLIER_CONFIRMED,
            lifecycle=lifecycle,
            author=context.author(Principal.system("suppliers"), handler.now),
            note="every supplier had confirmed before the payment",
        )
        if raised.history is not None:
            uow.lifecycle_events.add(raised.history)
        uow.audit.add(raised.audit)
        handler.emit(raised.event)

    events.subscribe(
        BookingStatusChanged,
        handle,
        name=SUPPLIER_CONFIRMATION_HANDLER,
        when=lambda event: event.to_status == "payment_confirmed",
    )
