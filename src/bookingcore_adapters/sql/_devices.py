"""Push devices in SQL: the table of customers' push tokens, its mapping and the repository."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Boolean, Column, Index, String, Table, Uuid

from bookingcore.domain.devices import MAX_DEVICE_TOKEN_LENGTH, PushDevice, PushDeviceId
from bookingcore.domain.values import CustomerId
from bookingcore_adapters.sql._mapper import Mapper, Row, Stored
from bookingcore_adapters.sql._repository import Repository, oldest_key
from bookingcore_adapters.sql._schema import ENUM, metadata, ref, when

__all__ = ["PUSH_DEVICES", "PushDeviceRepository", "push_devices"]

#: Customers' devices for push notifications (revision 0044), one row per token.
push_devices = Table(
    "push_devices",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("customer_id", "customers.id", nullable=False),
    Column("platform", ENUM, nullable=False),
    Column("token", String(MAX_DEVICE_TOKEN_LENGTH), nullable=False, unique=True),
    Column("label", String(100)),
    Column("active", Boolean(), nullable=False),
    when("created_at"),
    when("registered_at"),
    when("updated_at"),
    when("deactivated_at", nullable=True),
    Column("deactivation_reason", String(300)),
    Index(None, "customer_id", "created_at"),
)


def _dump(d: PushDevice) -> Row:
    return {
        "id": d.id,
        "customer_id": d.customer_id,
        "platform": d.platform.value,
        "token": d.token,
        "label": d.label,
        "active": d.active,
        "created_at": d.created_at,
        "registered_at": d.registered_at,
        "updated_at": d.updated_at,
        "deactivated_at": d.deactivated_at,
        "deactivation_reason": d.deactivation_reason,
    }


def _load(r: Stored, _: Sequence[Stored]) -> PushDevice:
    return PushDevice(
        id=r["id"],
        customer_id=r["customer_id"],
        platform=r["platform"],
        token=r["token"],
        label=r["label"],
        active=r["active"],
        created_at=r["created_at"],
        registered_at=r["registered_at"],
        updated_at=r["updated_at"],
        deactivated_at=r["deactivated_at"],
        deactivation_reason=r["deactivation_reason"],
    )


PUSH_DEVICES = Mapper[PushDevice]("push device", push_devices, _dump, _load)


class PushDeviceRepository(Repository[PushDevice]):
    """:class:`~bookingcore.ports.PushDeviceRepository` in SQL."""

    def get(self, device_id: PushDeviceId) -> PushDevice | None:
        return self._get(device_id)

    def get_by_token(self, token: str) -> PushDevice | None:
        return self._unique("token", token, lambda d: d.token)

    def list_for_customer(
        self, customer_id: CustomerId, *, only_active: bool = False
    ) -> Sequence[PushDevice]:
        theirs = self._session.select_equal(self._mapper, {"customer_id": customer_id}, oldest_key)
        return [d for d in theirs if d.active] if only_active else theirs

    def remove(self, device_id: PushDeviceId) -> bool:
        c = self._table.c
        removed = self._session.delete_now(
            self._mapper, [c.id == device_id], lambda d: d.id == device_id
        )
        return removed > 0
