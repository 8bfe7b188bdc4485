"""Booking groups, line items, waiting lists, payments and refunds in SQL.

The row functions (``dump_*``/``load_*``) that :mod:`._mapping` registers as
mappers, and the repositories :class:`~bookingcore_adapters.sql.SqlUnitOfWork`
hands out as ``uow.groups``, ``uow.booking_items``, ``uow.waitlist``,
``uow.payments`` and ``uow.refunds``. The repositories use only the unit of
work's reading helpers (``_get``, ``_lock_row``, ``_find_unique``, ``_select``,
``_page``), so they see its own additions and changes like every other one.

This module imports neither the unit of work nor the mapper registry at run
time (both import it), only for type checking.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, case, func, or_, select

from bookingcore.domain.communications import Channel
from bookingcore.domain.groups import BookingGroup, BookingGroupStatus, normalise_group_reference
from bookingcore.domain.items import BookingItem, BookingItemKind, BookingItemStatus
from bookingcore.domain.payments import (
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    normalise_provider,
)
from bookingcore.domain.queries import Page, PageRequest
from bookingcore.domain.values import (
    BookingGroupId,
    BookingId,
    BookingItemId,
    CustomerId,
    Money,
    PaymentId,
    RefundId,
    SlotId,
    WaitlistEntryId,
)
from bookingcore.domain.waitlist import (
    ACTIVE_WAITLIST_STATUSES,
    WaitlistEntry,
    WaitlistPriority,
    WaitlistStatus,
)
from bookingcore.errors import ValidationError
from bookingcore_adapters.sql._repository import Repository

if TYPE_CHECKING:
    pass

__all__ = [
    "BookingGroupRepository",
    "BookingItemRepository",
    "PaymentRepository",
    "RefundRepository",
    "WaitlistRepository",
    "dump_booking_group",
    "dump_booking_item",
    "dump_payment",
    "dump_refund",
    "dump_waitlist_entry",
    "load_booking_group",
    "load_booking_item",
    "load_payment",
    "load_refund",
    "load_waitlist_entry",
]

E = TypeVar("E")
Row = dict[str, Any]
Stored = Mapping[Any, Any]

_ACTIVE = sorted(status.value for status in ACTIVE_WAITLIST_STATUSES)


def _json(value: Mapping[str, Any]) -> dict[str, Any]:
    """A private deep copy, so a snapshot never shares a mutable value with its entity."""
    return copy.deepcopy(dict(value))


# --------------------------------------------------------------------------- rows


def dump_booking_group(g: BookingGroup) -> Row:
    """The ``booking_groups`` row of ``g``."""
    return {
        "id": g.id,
        "group_reference": g.group_reference,
        "company_id": g.company_id,
        "organizer_id": g.organizer_id,
        "group_name": g.group_name,
        "total_participants": g.total_participants,
        "status": g.status.value,
        "created_at": g.created_at,
        "updated_at": g.updated_at,
        "version": g.version,
    }


def load_booking_group(r: Stored, _: Sequence[Stored]) -> BookingGroup:
    """The group stored in ``r``."""
    return BookingGroup(
        id=r["id"],
        group_reference=r["group_reference"],
        organizer_id=r["organizer_id"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        company_id=r["company_id"],
        group_name=r["group_name"],
        total_participants=r["total_participants"],
        status=BookingGroupStatus(r["status"]),
        version=r["version"],
    )


def dump_booking_item(x: BookingItem) -> Row:
    """The ``booking_items`` row of ``x``."""
    return {
        "id": x.id,
        "booking_id": x.booking_id,
        "item_type": x.kind.value,
        "product_id": x.product_id,
        "supplier_id": x.supplier_id,
        "description": x.description,
        "quantity": x.quantity,
        "unit_price_amount": x.unit_price.amount,
        "total_amount": x.total.amount,
        "currency": x.currency,
        "service_starts_on": x.service_starts_on,
        "service_ends_on": x.service_ends_on,
        "status": x.status.value,
        "supplier_reference": x.supplier_reference,
        "metadata": _json(x.metadata),
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "version": x.version,
    }


def load_booking_item(r: Stored, _: Sequence[Stored]) -> BookingItem:
    """The line item stored in ``r``."""
    return BookingItem(
        id=r["id"],
        booking_id=r["booking_id"],
        kind=BookingItemKind(r["item_type"]),
        description=r["description"],
        quantity=r["quantity"],
        unit_price=Money(r["unit_price_amount"], r["currency"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        product_id=r["product_id"],
        supplier_id=r["supplier_id"],
        service_starts_on=r["service_starts_on"],
        service_ends_on=r["service_ends_on"],
        status=BookingItemStatus(r["status"]),
        supplier_reference=r["supplier_reference"],
        metadata=dict(r["metadata"]),
        version=r["version"],
    )


def dump_waitlist_entry(w: WaitlistEntry) -> Row:
    """The ``waiting_lists`` row of ``w``."""
    contact = w.preferred_contact_method
    return {
        "id": w.id,
        "slot_id": w.slot_id,
        "customer_id": w.customer_id,
        "seats": w.seats,
        "position": w.position,
        "priority": w.priority.value,
        "preferred_contact_method": None if contact is None else contact.value,
        "alternative_dates": [day.isoformat() for day in w.alternative_dates],
        "status": w.status.value,
        "offered_at": w.offered_at,
        "offer_expires_at": w.offer_expires_at,
        "booking_id": w.booking_id,
        "notes": w.notes,
        "created_at": w.created_at,
        "updated_at": w.updated_at,
        "version": w.version,
    }


def load_waitlist_entry(r: Stored, _: Sequence[Stored]) -> WaitlistEntry:
    """The waiting-list entry stored in ``r``."""
    contact = r["preferred_contact_method"]
    return WaitlistEntry(
        id=r["id"],
        slot_id=r["slot_id"],
        customer_id=r["customer_id"],
        seats=r["seats"],
        position=r["position"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        priority=WaitlistPriority(r["priority"]),
        preferred_contact_method=None if contact is None else Channel(contact),
        alternative_dates=tuple(date.fromisoformat(day) for day in r["alternative_dates"]),
        status=WaitlistStatus(r["status"]),
        offered_at=r["offered_at"],
        offer_expires_at=r["offer_expires_at"],
        booking_id=r["booking_id"],
        notes=r["notes"],
        version=r["version"],
    )


def dump_payment(p: Payment) -> Row:
    """The ``payments`` row of ``p``."""
    return {
        "id": p.id,
        "booking_id": p.booking_id,
        "customer_id": p.customer_id,
        "provider": p.provider,
        "provider_reference": p.provider_reference,
        "status": p.status.value,
        "amount": p.amount.amount,
        "captured_amount": p.captured_amount.amount,
        "refunded_amount": p.refunded_amount.amount,
        "pending_refund_amount": p.pending_refund_amount.amount,
        "currency": p.currency,
        "processed_event_ids": sorted(p.processed_event_ids),
        "idempotency_key": p.idempotency_key,
        "failure_reason": p.failure_reason,
        "captured_at": p.captured_at,
        "metadata": _json(p.metadata),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "version": p.version,
    }


def load_payment(r: Stored, _: Sequence[Stored]) -> Payment:
    """The payment stored in ``r``."""
    currency = r["currency"]
    return Payment(
        id=r["id"],
        booking_id=r["booking_id"],
        customer_id=r["customer_id"],
        provider=r["provider"],
        amount=Money(r["amount"], currency),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        provider_reference=r["provider_reference"],
        status=PaymentStatus(r["status"]),
        captured_amount=Money(r["captured_amount"], currency),
        refunded_amount=Money(r["refunded_amount"], currency),
        pending_refund_amount=Money(r["pending_refund_amount"], currency),
        processed_event_ids=frozenset(r["processed_event_ids"]),
        idempotency_key=r["idempotency_key"],
        failure_reason=r["failure_reason"],
        captured_at=r["captured_at"],
        metadata=dict(r["metadata"]),
        version=r["version"],
    )


def dump_refund(x: Refund) -> Row:
    """The ``payment_refunds`` row of ``x``."""
    return {
        "id": x.id,
        "payment_id": x.payment_id,
        "amount": x.amount.amount,
        "currency": x.amount.currency,
        "reason": x.reason,
        "status": x.status.value,
        "provider_reference": x.provider_reference,
        "failure_reason": x.failure_reason,
        "completed_at": x.completed_at,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "version": x.version,
    }


def load_refund(r: Stored, _: Sequence[Stored]) -> Refund:
    """The refund stored in ``r``."""
    return Refund(
        id=r["id"],
        payment_id=r["payment_id"],
        amount=Money(r["amount"], r["currency"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        reason=r["reason"],
        status=RefundStatus(r["status"]),
        provider_reference=r["provider_reference"],
        failure_reason=r["failure_reason"],
        completed_at=r["completed_at"],
        version=r["version"],
    )


# --------------------------------------------------------------------------- repositories


class BookingGroupRepository(Repository[BookingGroup]):
    """:class:`~bookingcore.ports.BookingGroupRepository` in SQL."""

    def get(self, group_id: BookingGroupId) -> BookingGroup | None:
        return self._get(group_id)

    def get_for_update(self, group_id: BookingGroupId) -> BookingGroup | None:
        return self._lock(group_id)

    def get_by_reference(self, group_reference: str) -> BookingGroup | None:
        try:
            reference = normalise_group_reference(group_reference)
        except ValidationError:
            return None  # no group can hold a malformed reference
        return self._uow._find_unique(
            self._mapper, "group_reference", reference, lambda g: g.group_reference
        )

    def list(
        self,
        page: PageRequest,
        *,
        status: BookingGroupStatus | None = None,
        customer_id: CustomerId | None = None,
    ) -> Page[BookingGroup]:
        c = self._table.c
        where: list[ColumnElement[bool]] = []
        if status is not None:
            where.append(c.status == BookingGroupStatus(status).value)
        if customer_id is not None:
            where.append(or_(c.organizer_id == customer_id, c.company_id == customer_id))

        def keep(group: BookingGroup) -> bool:
            return (status is None or group.status == status) and (
                customer_id is None or customer_id in (group.organizer_id, group.company_id)
            )

        return self._uow._page(self._mapper, where, keep, page)


class BookingItemRepository(Repository[BookingItem]):
    """:class:`~bookingcore.ports.BookingItemRepository` in SQL."""

    def get(self, item_id: BookingItemId) -> BookingItem | None:
        return self._get(item_id)

    def list_for_booking(self, booking_id: BookingId) -> Sequence[BookingItem]:
        return self._oldest_with(booking_id=booking_id)


class WaitlistRepository(Repository[WaitlistEntry]):
    """:class:`~bookingcore.ports.WaitlistRepository` in SQL."""

    def get(self, entry_id: WaitlistEntryId) -> WaitlistEntry | None:
        return self._get(entry_id)

    def get_for_update(self, entry_id: WaitlistEntryId) -> WaitlistEntry | None:
        return self._lock(entry_id)

    def get_active(self, slot_id: SlotId, customer_id: CustomerId) -> WaitlistEntry | None:
        c = self._table.c
        return self._first(
            [c.slot_id == slot_id, c.customer_id == customer_id, c.status.in_(_ACTIVE)],
            lambda w: w.slot_id == slot_id and w.customer_id == customer_id and w.is_active,
        )

    def list_for_slot(
        self, slot_id: SlotId, *, active_only: bool = False
    ) -> Sequence[WaitlistEntry]:
        c = self._table.c
        where = [c.slot_id == slot_id]
        if active_only:
            where.append(c.status.in_(_ACTIVE))
        rank = case(
            {priority.value: priority.rank for priority in WaitlistPriority},
            value=c.priority,
            else_=len(WaitlistPriority),
        )
        return self._uow._select(
            self._mapper,
            where,
            lambda w: w.slot_id == slot_id and (w.is_active or not active_only),
            lambda w: w.offer_key,
            order_by=[rank, c.position, c.created_at, c.id],
        )

    def list_for_customer(self, customer_id: CustomerId) -> Sequence[WaitlistEntry]:
        return self._oldest_with(customer_id=customer_id)

    def list_expired_offers(self, now: datetime, limit: int) -> Sequence[WaitlistEntry]:
        c = self._table.c
        return self._uow._select(
            self._mapper,
            [c.status == WaitlistStatus.OFFERED.value, c.offer_expires_at <= now],
            lambda w: (
                w.status is WaitlistStatus.OFFERED
                and w.offer_expires_at is not None
                and w.offer_expires_at <= now
            ),
            lambda w: (w.offer_expires_at, w.id.bytes),
            order_by=[c.offer_expires_at, c.id],
            limit=limit,
        )

    def next_position(self, slot_id: SlotId) -> int:
        uow = self._uow
        uow._require_active()
        c = self._table.c
        tracked: dict[UUID, WaitlistEntry] = uow._tracked[self._mapper.entity]
        mine = [w.position for w in tracked.values() if w.slot_id == slot_id]
        statement = select(func.max(c.position)).where(c.slot_id == slot_id)
        stored = uow._begin().execute(statement).scalar()
        return max([*mine, stored or 0]) + 1


class PaymentRepository(Repository[Payment]):
    """:class:`~bookingcore.ports.PaymentRepository` in SQL."""

    def get(self, payment_id: PaymentId) -> Payment | None:
        return self._get(payment_id)

    def get_for_update(self, payment_id: PaymentId) -> Payment | None:
        return self._lock(payment_id)

    def get_by_provider_reference(self, provider: str, reference: str) -> Payment | None:
        try:
            name = normalise_provider(provider)
        except ValidationError:
            return None  # no payment can name a malformed provider
        c = self._table.c
        return self._first(
            [c.provider == name, c.provider_reference == reference],
            lambda p: p.provider == name and p.provider_reference == reference,
        )

    def get_by_idempotency_key(self, key: str) -> Payment | None:
        return self._uow._find_unique(
            self._mapper, "idempotency_key", key, lambda p: p.idempotency_key
        )

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Payment]:
        return self._oldest_with(booking_id=booking_id)

    def list_for_customer(self, customer_id: CustomerId) -> Sequence[Payment]:
        return self._oldest_with(customer_id=customer_id)


class RefundRepository(Repository[Refund]):
    """:class:`~bookingcore.ports.RefundRepository` in SQL."""

    def get(self, refund_id: RefundId) -> Refund | None:
        return self._get(refund_id)

    def get_by_provider_reference(self, reference: str) -> Refund | None:
        return self._uow._find_unique(
            self._mapper, "provider_reference", reference, lambda r: r.provider_reference
        )

    def list_for_payment(self, payment_id: PaymentId) -> Sequence[Refund]:
        return self._oldest_with(payment_id=payment_id)
