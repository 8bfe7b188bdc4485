"""Ports: the protocols the core needs from the outside world.

Adapters in ``bookingcore_adapters`` (or your own) implement them; the
contract suites in :mod:`bookingcore.testing.contracts` check that they do.

.. versionadded:: 0.1
"""

from bookingcore.ports.clock import Clock, IdGenerator
from bookingcore.ports.repositories import (
    BookingRepository,
    CustomerRepository,
    LocationRepository,
    PartnerRepository,
    ProductRepository,
    SlotRepository,
    SupplierRepository,
    TravelerRepository,
)
from bookingcore.ports.uow import UnitOfWork, UnitOfWorkFactory

__all__ = [
    "BookingRepository",
    "Clock",
    "CustomerRepository",
    "IdGenerator",
    "LocationRepository",
    "PartnerRepository",
    "ProductRepository",
    "SlotRepository",
    "SupplierRepository",
    "TravelerRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
]
