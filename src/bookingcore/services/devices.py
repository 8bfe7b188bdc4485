"""Customers' push devices (real-time booking updates on the mobile app).

The app registers the push token its platform gave it after the customer signs
in, and unregisters it when they sign out; messages on the
:attr:`~bookingcore.domain.communications.Channel.PUSH` channel then go to each
active device (:class:`~bookingcore.services.CommunicationService`).

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from bookingcore.domain import policy
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.devices import DevicePlatform, PushDevice, PushDeviceId
from bookingcore.domain.policy import Permission, Principal
from bookingcore.domain.values import CustomerId
from bookingcore.errors import DuplicateError, NotFoundError
from bookingcore.services._context import ServiceContext, Transaction
from bookingcore.services.customers import CustomerService

__all__ = ["DEVICE_ENTITY", "DeviceRegistration", "PushDeviceService"]

#: The audit entity of a device's changes.
DEVICE_ENTITY = "push device"


@attrs.frozen
class DeviceRegistration:
    """What :meth:`PushDeviceService.register` did: the device, whether it is new
    (``created``), and the customer it moved from, when the token was another's.

    .. versionadded:: 0.4
    """

    device: PushDevice
    created: bool
    moved_from: CustomerId | None = None


class PushDeviceService:
    """Register, list and unregister the devices a customer gets push notifications on.

    Only the customer manages their devices; staff who see every customer list
    them, and staff who change everything may unregister one (a lost phone).
    Every change leaves an audit entry on the device (entity ``"push device"``),
    which shows the token masked, never whole.

    .. versionadded:: 0.4
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def register(
        self,
        customer_id: CustomerId,
        platform: DevicePlatform | str,
        token: str,
        *,
        principal: Principal,
        label: str | None = None,
    ) -> DeviceRegistration:
        """Register ``token`` as a device of ``customer_id`` (the app calls this after
        sign-in and whenever the platform hands it a new token).

        The token is the natural idempotency key: registering it again returns the
        same device, active again, with the platform and label given (a label not
        given keeps the one it had). A token another customer registered before
        moves to this customer, without its label (it named the other customer's
        device), and is audited as moved. The answer says which happened.

        Raises:
            ValidationError: on ``token`` (empty, longer than 1024 characters, with
                spaces or control characters), ``platform`` (not ``android``,
                ``ios`` or ``web``) or ``label`` (over 100 characters), all at once.
            PermissionDeniedError: ``principal`` is not that customer.
            NotFoundError: no such customer.
        """
        now = self._ctx.now()
        fresh = PushDevice.register(
            device_id=PushDeviceId(self._ctx.ids.new_id()),
            customer_id=customer_id,
            platform=platform,
            token=token,
            label=label,
            now=now,
        )
        policy.require(
            principal.is_customer(customer_id),
            f"{principal} may not register devices for customer {customer_id}",
        )
        try:
            return self._register(fresh, principal)
        except DuplicateError:
            # The app registered the same token twice at once (two requests in flight):
            # the other call stored it; this one now finds it and registers it again.
            return self._register(fresh, principal)

    def _register(self, fresh: PushDevice, principal: Principal) -> DeviceRegistration:
        with self._ctx.transaction() as tx:
            CustomerService.load_visible(tx.uow, fresh.customer_id, principal)
            device = tx.uow.push_devices.get_by_token(fresh.token)
            if device is None:
                tx.uow.push_devices.add(fresh)
                self._audit(tx, principal, fresh, AuditAction.CREATED, new=_facts(fresh))
                tx.commit()
                return DeviceRegistration(fresh, created=True)
            before = _facts(device)
            moved_from = device.register_again(
                customer_id=fresh.customer_id,
                platform=fresh.platform,
                label=fresh.label,
                now=fresh.registered_at,
            )
            after = _facts(device)
            if moved_from is not None:
                after["moved_from"] = str(moved_from)
            old = {k: v for k, v in before.items() if after.get(k) != v}
            new = {k: v for k, v in after.items() if before.get(k) != v}
            if new:
                action = AuditAction.ACTIVATED if new.keys() == {"active"} else AuditAction.UPDATED
                self._audit(tx, principal, device, action, old=old, new=new)
            tx.commit()
            return DeviceRegistration(device, created=False, moved_from=moved_from)

    def list(
        self, customer_id: CustomerId, *, principal: Principal, only_active: bool = False
    ) -> Sequence[PushDevice]:
        """The customer's devices, oldest first (the active ones with ``only_active``).

        Raises:
            NotFoundError: no such customer, or ``principal`` is neither that customer
                nor staff who see every customer.
        """
        with self._ctx.uow_factory() as uow:
            customer = CustomerService.load_visible(uow, customer_id, principal)
            if not (principal.is_customer(customer.id) or principal.has(Permission.VIEW_ALL)):
                raise NotFoundError("customer", customer_id)
            return uow.push_devices.list_for_customer(customer_id, only_active=only_active)

    def unregister(
        self, customer_id: CustomerId, device_id: PushDeviceId, *, principal: Principal
    ) -> None:
        """Forget the device (the app calls this at sign-out): its row and token go.

        Raises:
            NotFoundError: no such device of that customer (unregistered already,
                or another customer's), or a customer ``principal`` may not see.
            PermissionDeniedError: ``principal`` is neither that customer nor staff
                who change everything.
        """
        with self._ctx.transaction() as tx:
            CustomerService.load_visible(tx.uow, customer_id, principal)
            policy.require(
                principal.is_customer(customer_id) or principal.has(Permission.CHANGE_ALL),
                f"{principal} may not unregister devices of customer {customer_id}",
            )
            device = tx.uow.push_devices.get(device_id)
            if device is None or device.customer_id != customer_id:
                raise NotFoundError("push device", device_id)
            tx.uow.push_devices.remove(device.id)
            self._audit(tx, principal, device, AuditAction.DELETED, old=_facts(device))
            tx.commit()

    @staticmethod
    def deactivate(
        tx: Transaction, device: PushDevice, reason: str, *, principal: Principal, now: datetime
    ) -> bool:
        """Deactivate ``device`` in the caller's unit of work (the push service said
        its token is gone), with an audit entry; False when it was inactive already.
        """
        if not device.deactivate(reason, now=now):
            return False
        PushDeviceService._audit(
            tx,
            principal,
            device,
            AuditAction.DEACTIVATED,
            old={"active": True},
            new={"active": False},
            reason=device.deactivation_reason,
        )
        return True

    @staticmethod
    def _audit(
        tx: Transaction,
        principal: Principal,
        device: PushDevice,
        action: AuditAction,
        *,
        old: dict[str, object] | None = None,
        new: dict[str, object] | None = None,
        reason: str | None = None,
    ) -> None:
        tx.audit(
            principal,
            entity=DEVICE_ENTITY,
            entity_id=device.id,
            action=action,
            old=old,
            new=new,
            reason=reason,
        )


def _facts(device: PushDevice) -> dict[str, object]:
    """What an audit entry records of a device: never the whole token."""
    return {
        "customer_id": str(device.customer_id),
        "platform": device.platform.value,
        "token": device.masked_token(),
        "label": device.label,
        "active": device.active,
    }
