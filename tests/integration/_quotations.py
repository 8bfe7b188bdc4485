"""What the travel tests share: a quotation of two suppliers' hotels, sent to a customer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from bookingcore import BookingCore, Money, Principal, Settings
from bookingcore.domain import Quotation, Supplier
from bookingcore.services import QuotationRequest, QuoteLine
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.exchange import FixedExchangeRates
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore


def travel_core(store: MemoryStore | SqlStore, clock: FixedClock, **options: Any) -> BookingCore:
    """A core over ``store`` that prices euros at 90 INR."""
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
        exchange_rates=FixedExchangeRates({("EUR", "INR"): Decimal("90")}),
        **options,
    )


def send_two_hotels(
    core: BookingCore, clock: FixedClock, admin: Principal
) -> tuple[Quotation, list[Supplier]]:
    """A slot in Leh, two suppliers and a sent quotation of one 50 EUR hotel from each,
    for one traveler of a new customer."""
    location = core.catalog.add_location("LEH", "Leh", principal=admin)
    slot = core.catalog.create_slot(
        location_id=location.id,
        starts_at=clock.now() + timedelta(days=20),
        price_per_traveler=Money("10000", "INR"),
        capacity=10,
        principal=admin,
    )
    suppliers = [
        core.catalog.add_supplier(f"S{n}", f"Supplier {n}", principal=admin) for n in range(2)
    ]
    customer = core.customers.register("+919876543210", principal=admin).customer
    quotation = core.quotations.create(
        QuotationRequest(
            customer_id=customer.id,
            slot_id=slot.id,
            travelers=1,
            lines=[
                QuoteLine(
                    kind="hotel",
                    description=f"Service {n}",
                    quantity=1,
                    unit_price=Money("50", "EUR"),
                    supplier_id=supplier.id,
                )
                for n, supplier in enumerate(suppliers)
            ],
            valid_until=clock.now().date() + timedelta(days=5),
        ),
        principal=admin,
    )
    core.quotations.send(quotation.id, principal=admin)
    return quotation, suppliers
