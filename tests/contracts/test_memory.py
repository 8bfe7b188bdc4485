"""The memory adapter passes the storage contract every adapter must pass."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookingcore.errors import DuplicateError
from bookingcore.ports.uow import UnitOfWorkFactory
from bookingcore.testing import AdapterCapabilities
from bookingcore.testing.builders import T0, Builder
from bookingcore.testing.contracts import StorageContract
from bookingcore_adapters.memory import MemoryStore


class TestMemoryStorage(StorageContract):
    """The shared storage contract, over a fresh :class:`MemoryStore`."""

    # Rows live in the store object, and its lock in this process only.
    capabilities = AdapterCapabilities(persistent=False, row_locks_across_processes=False)

    @pytest.fixture
    def uow_factory(self) -> UnitOfWorkFactory:
        return MemoryStore().unit_of_work


def test_a_key_given_up_and_claimed_again_in_one_commit_stays_claimed() -> None:
    """Cancelling a waitlist entry and rejoining in one commit leaves the new entry holding
    the customer's place, whichever of the two the commit writes first."""
    store, make = MemoryStore(), Builder()
    location = make.location()
    slot = make.slot(location.id)
    customer = make.customer()
    first = make.waitlist_entry(slot.id, customer.id)
    with store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        uow.customers.add(customer)
        uow.waitlist.add(first)
        uow.commit()
    rejoined = make.waitlist_entry(slot.id, customer.id, position=2)
    with store.unit_of_work() as uow:
        uow.waitlist.add(rejoined)  # tracked before the entry it replaces
        old = uow.waitlist.get(first.id)
        assert old is not None
        old.cancel(now=T0 + timedelta(minutes=1))
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.waitlist.get_active(slot.id, customer.id) == rejoined
        uow.waitlist.add(make.waitlist_entry(slot.id, customer.id, position=3))
        with pytest.raises(DuplicateError) as caught:
            uow.commit()
    assert caught.value.existing_id == rejoined.id


def test_no_module_of_the_memory_adapter_imports_one_that_imports_it_back() -> None:
    """No import cycle inside the adapter, counting imports made only for type checking."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("bookingcore_adapters", cache_dir=None)
    modules = sorted(m for m in graph.modules if m.startswith("bookingcore_adapters.memory."))
    cycles = [
        (importer, imported)
        for importer in modules
        for imported in modules
        if graph.direct_import_exists(importer=importer, imported=imported)
        and graph.find_shortest_chain(importer=imported, imported=importer) is not None
    ]
    assert "bookingcore_adapters.memory._uow" in modules
    assert cycles == []


def test_a_row_taking_two_stored_rows_keys_names_the_one_sql_names() -> None:
    """The first key taken by the SQL table's column order: ``external_id`` before
    ``idempotency_key`` (see ``tests/contracts/test_sql.py``)."""
    store, make = MemoryStore(), Builder()
    location = make.location()
    slot = make.slot(location.id, capacity=None)
    customer = make.customer()
    traveler = make.traveler(customer.id)
    by_external = make.booking(customer.id, slot, [traveler.id], external_id="OLD-1")
    by_key = make.booking(customer.id, slot, [traveler.id], idempotency_key="KEY-1")
    with store.unit_of_work() as uow:
        for repository, entity in (
            ("locations", location),
            ("slots", slot),
            ("customers", customer),
            ("travelers", traveler),
            ("bookings", by_external),
            ("bookings", by_key),
        ):
            getattr(uow, repository).add(entity)
        uow.commit()
    both = make.booking(
        customer.id, slot, [traveler.id], external_id="OLD-1", idempotency_key="KEY-1"
    )
    with store.unit_of_work() as uow:
        uow.bookings.add(both)
        with pytest.raises(DuplicateError) as caught:
            uow.commit()
    assert (caught.value.entity, caught.value.existing_id) == ("booking", by_external.id)
