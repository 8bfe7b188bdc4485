"""Exchange rates on every store: a line priced in a supplier's currency costs the same
in the quotation, in the booking made from it and in the booking's items read back."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import items_total
from bookingcore.services import BookedItem, QuotationRequest, QuoteLine
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.exchange import FixedExchangeRates
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


def test_a_rate_of_many_decimals_prices_the_line_alike_in_quotation_booking_and_items(
    any_store: MemoryStore | SqlStore,
) -> None:
    clock = FixedClock()
    core = BookingCore(
        uow_factory=any_store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
        exchange_rates=FixedExchangeRates({("EUR", "INR"): Decimal("90.1234567891")}),
    )
    location = core.catalog.add_location("LEH", "Leh", principal=ADMIN)
    slot = core.catalog.create_slot(
        location_id=location.id,
        starts_at=clock.now() + timedelta(days=20),
        price_per_traveler=Money("10000", "INR"),
        capacity=10,
        principal=ADMIN,
    )
    customer = core.customers.register("+919876543210", principal=ADMIN).customer
    quotation = core.quotations.create(
        QuotationRequest(
            customer_id=customer.id,
            slot_id=slot.id,
            travelers=1,
            lines=[
                QuoteLine(
                    kind="hotel",
                    description="Palace suite",
                    quantity=10_000,
                    unit_price=Money("1000", "EUR"),
                )
            ],
            valid_until=clock.now().date() + timedelta(days=5),
        ),
        principal=ADMIN,
    )
    core.quotations.send(quotation.id, principal=ADMIN)
    party = [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)]
    booking = core.quotations.approve(quotation.id, party, principal=ADMIN)
    stored = core.bookings.get(booking.id, principal=ADMIN)
    items = core.items.for_booking(booking.id, principal=ADMIN)
    assert stored.items_total == quotation.lines_total
    assert items_total(items, "INR") == quotation.lines_total
    assert stored.total == quotation.total


def test_an_item_booked_at_a_rate_of_many_decimals_costs_the_same_read_back(
    any_store: MemoryStore | SqlStore,
) -> None:
    clock = FixedClock()
    core = BookingCore(uow_factory=any_store.unit_of_work, clock=clock, ids=SequentialIds())
    location = core.catalog.add_location("LEH", "Leh", principal=ADMIN)
    slot = core.catalog.create_slot(
        location_id=location.id,
        starts_at=clock.now() + timedelta(days=20),
        price_per_traveler=Money("10000", "INR"),
        capacity=10,
        principal=ADMIN,
    )
    suite = BookedItem(
        kind="hotel",
        description="Palace suite",
        quantity=10_000,
        unit_price=Money("1000", "EUR"),
        exchange_rate=Decimal("90.1234567891"),
    )
    customer = core.customers.register("+919876543210", principal=ADMIN).customer
    party = [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)]
    request = BookingRequest(slot.id, party, customer_id=customer.id, items=[suite])
    booking = core.bookings.book(request, principal=ADMIN)
    (item,) = core.items.for_booking(booking.id, principal=ADMIN)
    assert item.exchange_rate == Decimal("90.12345679")
    assert core.bookings.get(booking.id, principal=ADMIN).items_total == item.booking_total
    assert booking.items_total == item.booking_total == Money("901234567.90", "INR")
