"""The memory adapter passes the storage contract every adapter must pass."""

from __future__ import annotations

import pytest

from bookingcore.ports.uow import UnitOfWorkFactory
from bookingcore.testing.contracts import StorageContract
from bookingcore_adapters.memory import MemoryStore


class TestMemoryStorage(StorageContract):
    """The shared storage contract, over a fresh :class:`MemoryStore`."""

    @pytest.fixture
    def uow_factory(self) -> UnitOfWorkFactory:
        return MemoryStore().unit_of_work
