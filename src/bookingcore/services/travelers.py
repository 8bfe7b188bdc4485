"""Traveler use cases: save, reuse, update and soft-delete a customer's travelers.

A traveler belongs to one customer; nobody who may not see that customer sees
the traveler, and asking for it answers "not found".

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import attrs

from bookingcore.domain import policy
from bookingcore.domain.audit import AuditAction, diff, snapshot
from bookingcore.domain.customers import Traveler, TravelerDetails
from bookingcore.domain.events import TravelerChanged
from bookingcore.domain.policy import Principal
from bookingcore.domain.values import CustomerId, TravelerId
from bookingcore.errors import NotFoundError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import (
    ServiceContext,
    Transaction,
    claim_creation,
    claim_request,
    fingerprint,
    principal_key,
)
from bookingcore.services.customers import CustomerService

__all__ = ["TravelerService"]


class TravelerService:
    """Manage the travelers saved under a customer.

    .. versionadded:: 0.1
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def add(
        self,
        customer_id: CustomerId,
        details: TravelerDetails,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> Traveler:
        """Save a traveler under ``customer_id`` for this and later bookings.

        Nothing makes a saved traveler unique (two people may share a name), so
        a call without a key saves another. A retry with the same
        ``idempotency_key`` and the same request (the customer and every field
        of ``details``) returns the traveler the first call saved, as it is now
        (updated or deleted since, perhaps), and saves nothing more.

        Raises:
            NotFoundError: no such customer visible to ``principal``.
            PermissionDeniedError: ``principal`` may see but not change the customer.
            ValidationError: naming every bad field of ``details``; nothing is
                stored; on ``idempotency_key`` when malformed.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        """
        key = principal_key(principal, idempotency_key)
        with self._ctx.transaction() as tx:
            traveler_id = None
            if key is not None:
                # Recognised before the customer is checked: merged since, a retry
                # answers the traveler (moved to the survivor).
                asked = fingerprint("traveler", principal, customer_id=customer_id, details=details)
                traveler_id, prior = claim_creation(
                    tx.uow,
                    key,
                    "traveler",
                    self._ctx.now(),
                    asked,
                    as_id=TravelerId,
                    load=tx.uow.travelers.get,
                )
                if prior is not None:
                    return prior
            traveler = self._create(
                tx, customer_id, details, principal=principal, emit=True, traveler_id=traveler_id
            )
            tx.commit()
            return traveler

    def create(
        self,
        tx: Transaction,
        customer_id: CustomerId,
        details: TravelerDetails,
        *,
        principal: Principal,
        emit: bool = True,
    ) -> Traveler:
        """Inside the transaction ``tx``: save a traveler under ``customer_id`` (what
        :meth:`add` does, for a caller that commits more with it, such as an import).

        Leaves an audit entry and raises ``TravelerChanged`` (``emit=False``
        leaves the event out, as an import told not to emit does).

        Raises:
            NotFoundError: no such customer visible to ``principal``.
            PermissionDeniedError: ``principal`` may see but not change the customer.
            ValidationError: naming every bad field of ``details``; nothing is stored.

        .. versionadded:: 0.3
        """
        return self._create(tx, customer_id, details, principal=principal, emit=emit)

    def _create(
        self,
        tx: Transaction,
        customer_id: CustomerId,
        details: TravelerDetails,
        *,
        principal: Principal,
        emit: bool,
        traveler_id: TravelerId | None = None,
    ) -> Traveler:
        """:meth:`create`, the traveler taking ``traveler_id`` (a keyed call's) if given."""
        uow = tx.uow
        self._owner_for_change(uow, customer_id, principal)
        traveler = Traveler.create(
            traveler_id=traveler_id or TravelerId(self._ctx.ids.new_id()),
            customer_id=customer_id,
            details=details,
            region=self._ctx.settings.default_region,
            now=self._ctx.now(),
            today=self._ctx.today(),
        )
        uow.travelers.add(traveler)
        self._record(
            tx, traveler, principal, AuditAction.CREATED, old={}, new=_details(traveler), emit=emit
        )
        return traveler

    def get(self, traveler_id: TravelerId, *, principal: Principal) -> Traveler:
        """The traveler, deleted or not, if ``principal`` may see its customer.

        Raises:
            NotFoundError: otherwise.
        """
        with self._ctx.uow_factory() as uow:
            return self._load(uow, traveler_id, principal)

    def list(
        self,
        customer_id: CustomerId,
        *,
        principal: Principal,
        include_deleted: bool = False,
    ) -> Sequence[Traveler]:
        """The customer's saved travelers, oldest first; deleted ones only on request.

        Raises:
            NotFoundError: no such customer visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            CustomerService.load_visible(uow, customer_id, principal)
            return uow.travelers.list_for_customer(customer_id, include_deleted=include_deleted)

    def update(
        self,
        traveler_id: TravelerId,
        details: TravelerDetails,
        *,
        principal: Principal,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Traveler:
        """Replace a traveler's details. Past bookings keep pointing at the same person.

        A retry with the same ``idempotency_key`` and the same request (the
        traveler, every field of ``details`` and ``expected_version``) returns
        the traveler as it is now (changed or deleted since, perhaps: no
        ``StaleVersionError`` for the version it asked) and writes nothing.

        Raises:
            NotFoundError: no such traveler visible to ``principal`` (or it was deleted).
            PermissionDeniedError: ``principal`` may see but not change it.
            StaleVersionError: ``expected_version`` is older than the stored one.
            ValidationError: naming every bad field; nothing changes; on
                ``idempotency_key`` when malformed.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        """
        key = principal_key(principal, idempotency_key)
        with self._ctx.transaction() as tx:
            uow = tx.uow
            entry_id, fresh = None, True
            if key is not None:
                asked = fingerprint(
                    "traveler_update",
                    principal,
                    traveler_id=traveler_id,
                    details=details,
                    expected_version=expected_version,
                )
                entry_id, fresh = claim_request(uow, key, "traveler_update", self._ctx.now(), asked)
            traveler = self._load(uow, traveler_id, principal)
            if fresh and traveler.is_deleted:
                raise NotFoundError("traveler", traveler_id)
            self._owner_for_change(uow, traveler.customer_id, principal)
            if not fresh:
                return traveler
            traveler.check_version(expected_version)
            self._revise(tx, traveler, details, principal=principal, emit=True, entry_id=entry_id)
            tx.commit()
            return traveler

    def revise(
        self,
        tx: Transaction,
        traveler: Traveler,
        details: TravelerDetails,
        *,
        principal: Principal,
        emit: bool = True,
    ) -> bool:
        """Inside the transaction ``tx``: replace ``traveler``'s details (what :meth:`update`
        does once it has checked who asks); whether anything changed.

        A change leaves an audit entry and raises ``TravelerChanged`` (unless
        ``emit=False``).

        Raises:
            ValidationError: naming every bad field; nothing changes.

        .. versionadded:: 0.3
        """
        return self._revise(tx, traveler, details, principal=principal, emit=emit)

    def _revise(
        self,
        tx: Transaction,
        traveler: Traveler,
        details: TravelerDetails,
        *,
        principal: Principal,
        emit: bool,
        entry_id: UUID | None = None,
    ) -> bool:
        """:meth:`revise`, the audit entry taking ``entry_id`` (a keyed call's) if given."""
        before = _details(traveler)
        traveler.update(
            details,
            region=self._ctx.settings.default_region,
            now=self._ctx.now(),
            today=self._ctx.today(),
        )
        old, new = diff(before, _details(traveler))
        if new:
            self._record(
                tx,
                traveler,
                principal,
                AuditAction.UPDATED,
                old=old,
                new=new,
                emit=emit,
                entry_id=entry_id,
            )
        return bool(new)

    def delete(self, traveler_id: TravelerId, *, principal: Principal) -> Traveler:
        """Soft-delete: the traveler leaves lists and new bookings, history keeps them.

        Deleting twice is harmless.

        Raises:
            NotFoundError: no such traveler visible to ``principal``.
            PermissionDeniedError: ``principal`` may see but not change it.
        """
        with self._ctx.transaction() as tx:
            uow = tx.uow
            traveler = self._load(uow, traveler_id, principal)
            self._owner_for_change(uow, traveler.customer_id, principal)
            if not traveler.is_deleted:
                traveler.soft_delete(now=self._ctx.now())
                self._record(tx, traveler, principal, AuditAction.DELETED, old={}, new={})
            tx.commit()
            return traveler

    def _record(
        self,
        tx: Transaction,
        traveler: Traveler,
        principal: Principal,
        action: AuditAction,
        *,
        old: dict[str, object],
        new: dict[str, object],
        emit: bool = True,
        entry_id: UUID | None = None,
    ) -> None:
        tx.audit(
            principal,
            entity="traveler",
            entity_id=traveler.id,
            action=action,
            old=old,
            new=new,
            entry_id=entry_id,
        )
        if not emit:
            return
        tx.emit(
            TravelerChanged(
                id=tx.new_event_id(),
                occurred_at=self._ctx.now(),
                traveler_id=traveler.id,
                customer_id=traveler.customer_id,
                action=action.value,
                actor=principal.actor,
            )
        )

    @staticmethod
    def _load(uow: UnitOfWork, traveler_id: TravelerId, principal: Principal) -> Traveler:
        traveler = uow.travelers.get(traveler_id)
        if traveler is None:
            raise NotFoundError("traveler", traveler_id)
        owner = uow.customers.get(traveler.customer_id)
        if owner is None or not policy.can_view_customer(principal, owner):
            raise NotFoundError("traveler", traveler_id)
        return traveler

    @staticmethod
    def _owner_for_change(uow: UnitOfWork, customer_id: CustomerId, principal: Principal) -> None:
        owner = CustomerService.load_visible(uow, customer_id, principal)
        policy.require(
            policy.can_change_customer(principal, owner),
            f"{principal} may not change the travelers of customer {customer_id}",
        )


_NOT_DETAILS = frozenset({"id", "customer_id", "created_at", "updated_at", "deleted_at", "version"})
_DETAIL_FIELDS = tuple(f.name for f in attrs.fields(Traveler) if f.name not in _NOT_DETAILS)


def _details(traveler: Traveler) -> dict[str, object]:
    return snapshot(traveler, _DETAIL_FIELDS)
