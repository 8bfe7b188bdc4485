"""The façade a host wires once and calls everywhere.

.. versionadded:: 0.1
"""

from __future__ import annotations

from bookingcore.ports.clock import Clock, IdGenerator
from bookingcore.ports.uow import UnitOfWorkFactory
from bookingcore.services._context import ServiceContext, Settings
from bookingcore.services.bookings import BookingService
from bookingcore.services.catalog import CatalogService
from bookingcore.services.customers import CustomerService
from bookingcore.services.partners import PartnerService
from bookingcore.services.travelers import TravelerService

__all__ = ["BookingCore"]


class BookingCore:
    """Every bookingcore service over one set of adapters.

    Wiring is explicit: pass a unit-of-work factory, a clock and an id
    generator; nothing is read from the environment::

        from bookingcore import BookingCore
        from bookingcore_adapters.memory import MemoryStore
        from bookingcore_adapters.system import SystemClock, RandomIds

        core = BookingCore(uow_factory=MemoryStore().unit_of_work,
                           clock=SystemClock(), ids=RandomIds())
        customer = core.customers.register("+919876543210", principal=staff).customer

    Attributes:
        customers: :class:`~bookingcore.services.CustomerService`
        travelers: :class:`~bookingcore.services.TravelerService`
        catalog: :class:`~bookingcore.services.CatalogService` (locations, products, slots)
        bookings: :class:`~bookingcore.services.BookingService`
        partners: :class:`~bookingcore.services.PartnerService`

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        settings: Settings | None = None,
    ) -> None:
        self.context = ServiceContext(uow_factory, clock, ids, settings or Settings())
        self.customers = CustomerService(self.context)
        self.travelers = TravelerService(self.context)
        self.catalog = CatalogService(self.context)
        self.bookings = BookingService(self.context, self.customers)
        self.partners = PartnerService(self.context)

    @property
    def settings(self) -> Settings:
        """The settings this core was built with."""
        return self.context.settings
