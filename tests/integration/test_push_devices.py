"""Push devices on SQLite and PostgreSQL: two registrations of one token in flight at
once store one device, and a customer merge and erasure move and delete devices."""

from __future__ import annotations

import contextlib
import threading
from typing import Any
from uuid import uuid4

from tests._threads import at_once

from bookingcore import BookingCore, Principal, Settings, StaffId, StaffRole
from bookingcore.testing import RecordingNotifier
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
TOKEN = "cmFjZS10b2tlbg:APA91bHrace"


class _Racing:
    """A unit of work whose device look-up by token waits until every racer looked:
    both registrations read "no such token" before either writes."""

    def __init__(self, uow: Any, barrier: threading.Barrier) -> None:
        self._uow = uow
        self._barrier = barrier

    def __getattr__(self, name: str) -> Any:
        return getattr(self._uow, name)

    def __enter__(self) -> _Racing:
        self._uow.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._uow.__exit__(*exc)

    @property
    def push_devices(self) -> Any:
        devices, barrier = self._uow.push_devices, self._barrier

        class Devices:
            def __getattr__(self, name: str) -> Any:
                return getattr(devices, name)

            def get_by_token(self, token: str) -> Any:
                found = devices.get_by_token(token)
                if not barrier.broken:
                    with contextlib.suppress(threading.BrokenBarrierError):
                        barrier.wait(timeout=5)
                return found

        return Devices()


def test_one_token_registered_twice_at_once_is_one_device(sql_store: SqlStore) -> None:
    barrier = threading.Barrier(2)

    def racing_uow() -> Any:
        return _Racing(sql_store.unit_of_work(), barrier)

    core = BookingCore(uow_factory=racing_uow, settings=Settings(default_region="IN"))
    barrier.abort()  # registering the customer reads no devices; arm it afterwards
    asha = core.customers.register("+919876543210", principal=ADMIN).customer
    barrier.reset()
    me = Principal.customer(asha.id)
    results = at_once(2, lambda _: core.devices.register(asha.id, "android", TOKEN, principal=me))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.created for r in results) == [False, True]
    assert len({r.device.id for r in results}) == 1
    barrier.abort()
    assert len(core.devices.list(asha.id, principal=me)) == 1


def test_merge_moves_devices_and_erasure_deletes_them(sql_store: SqlStore) -> None:
    core = BookingCore(
        uow_factory=sql_store.unit_of_work,
        settings=Settings(default_region="IN"),
        notifier=RecordingNotifier(),
    )
    asha = core.customers.register("+919876543210", principal=ADMIN).customer
    dup = core.customers.register("+919812345678", principal=ADMIN).customer
    phone = core.devices.register(dup.id, "ios", TOKEN, principal=Principal.customer(dup.id))
    core.customers.merge(asha.id, dup.id, principal=ADMIN)
    (moved,) = core.devices.list(asha.id, principal=ADMIN)
    assert (moved.id, moved.customer_id) == (phone.device.id, asha.id)
    core.privacy.erase_customer(asha.id, principal=ADMIN)
    assert core.devices.list(asha.id, principal=ADMIN) == []
    with sql_store.unit_of_work() as uow:
        assert uow.push_devices.get_by_token(TOKEN) is None
