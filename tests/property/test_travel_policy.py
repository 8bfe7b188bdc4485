"""Property: for random principals, a supplier's user never reads or answers for another
supplier's items, and a customer never reads another customer's quotations or leads."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import attrs
from hypothesis import given
from hypothesis import strategies as st

from bookingcore import (
    BookingCore,
    CustomerId,
    Money,
    NewTraveler,
    NotFoundError,
    PartnerId,
    PermissionDeniedError,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    SupplierId,
    TravelerDetails,
)
from bookingcore.domain import Booking, BookingItem, Quotation, Supplier, policy
from bookingcore.services import LeadRequest, QuotationRequest, QuoteLine
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.exchange import FixedExchangeRates
from bookingcore_adapters.memory import MemoryStore


@attrs.frozen
class World:
    """Two customers, each with a booking made from a quotation that mixes three suppliers."""

    core: BookingCore
    suppliers: tuple[Supplier, ...]
    quotations: tuple[Quotation, ...]
    bookings: tuple[Booking, ...]
    items: tuple[BookingItem, ...]


def _world() -> World:
    clock = FixedClock()
    core = BookingCore(
        uow_factory=MemoryStore().unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
        exchange_rates=FixedExchangeRates({("EUR", "INR"): Decimal("90")}),
    )
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    location = core.catalog.add_location("GOA", "Goa", principal=admin)
    slot = core.catalog.create_slot(
        location_id=location.id,
        starts_at=clock.now() + timedelta(days=20),
        price_per_traveler=Money("5000", "INR"),
        principal=admin,
    )
    suppliers = tuple(
        core.catalog.add_supplier(f"S{n}", f"Supplier {n}", principal=admin) for n in range(3)
    )
    quotations, bookings = [], []
    for phone, name in (("+919876543210", "Asha Rao"), ("+919876543211", "Ravi Das")):
        lead = core.leads.capture(
            LeadRequest(source="phone", phone=phone, name=name), principal=admin
        )
        quotation = core.quotations.create(
            QuotationRequest(
                customer_id=lead.customer_id,
                slot_id=slot.id,
                travelers=1,
                lines=[
                    QuoteLine(
                        kind="activity",
                        description=f"Service by {supplier.code}",
                        quantity=1,
                        unit_price=Money("10", "EUR") if n else Money("900", "INR"),
                        supplier_id=supplier.id,
                    )
                    for n, supplier in enumerate(suppliers)
                ],
                valid_until=clock.now().date() + timedelta(days=3),
                lead_id=lead.id,
            ),
            principal=admin,
        )
        core.quotations.send(quotation.id, principal=admin)
        booking = core.quotations.approve(
            quotation.id, [NewTraveler(TravelerDetails(name), is_primary=True)], principal=admin
        )
        quotations.append(core.quotations.get(quotation.id, principal=admin))
        bookings.append(booking)
    items = tuple(
        item for booking in bookings for item in core.items.for_booking(booking.id, principal=admin)
    )
    return World(core, suppliers, tuple(quotations), tuple(bookings), items)


@st.composite
def principals(draw: st.DrawFn, world: World) -> Principal:
    """Anyone: a customer (of the world or not), a partner, staff of every role, a supplier's
    user of each supplier (or of none), a webhook, the system."""
    customers = [q.customer_id for q in world.quotations] + [CustomerId(uuid4())]
    supplier_ids = [s.id for s in world.suppliers] + [SupplierId(uuid4())]
    asker: Principal = draw(
        st.one_of(
            st.sampled_from(customers).map(Principal.customer),
            st.just(Principal.partner(PartnerId(uuid4()))),
            st.sampled_from(
                [StaffRole.ADMIN, StaffRole.STAFF, StaffRole.EDITOR, StaffRole.ADVISOR]
            ).map(lambda role: Principal.staff(StaffId(uuid4()), role)),
            st.sampled_from(supplier_ids).map(
                lambda sid: Principal.staff(StaffId(uuid4()), StaffRole.SUPPLIER, supplier_id=sid)
            ),
            st.just(Principal.webhook("payments")),
            st.just(Principal.system()),
        )
    )
    return asker


def _supplier_user(principal: Principal) -> bool:
    return principal.role is StaffRole.SUPPLIER


@given(data=st.data())
def test_a_supplier_reads_and_answers_only_for_its_own_items(data: st.DataObject) -> None:
    world = _world()
    core = world.core
    asker = data.draw(principals(world))
    for booking in world.bookings:
        try:
            seen = core.items.for_booking(booking.id, principal=asker)
        except NotFoundError:
            seen = []
        for item in seen:
            if _supplier_user(asker):
                assert item.supplier_id == asker.supplier_id
        if _supplier_user(asker):
            own = [i for i in world.items if i.booking_id == booking.id]
            assert len(seen) == sum(1 for i in own if i.supplier_id == asker.supplier_id)
    item = data.draw(st.sampled_from(world.items))
    may = policy.can_answer_for_item(asker, item)
    try:
        core.items.reject(item.id, "fully booked", principal=asker)
    except (NotFoundError, PermissionDeniedError):
        assert not may
    else:
        assert may
        assert asker.has(policy.Permission.CHANGE_ALL) or item.supplier_id == asker.supplier_id


@given(data=st.data())
def test_a_customer_sees_only_their_own_quotations_and_leads(data: st.DataObject) -> None:
    world = _world()
    core = world.core
    asker = data.draw(principals(world))
    listed = core.quotations.list(principal=asker)
    leads = core.leads.list(principal=asker)
    if asker.has(policy.Permission.VIEW_ALL):
        assert len(listed) == len(world.quotations)
        assert len(leads) == len(world.quotations)
        return
    for quotation in world.quotations:
        theirs = asker.is_customer(quotation.customer_id)
        try:
            core.quotations.get(quotation.id, principal=asker)
        except NotFoundError:
            assert not theirs
        else:
            assert theirs
    assert all(asker.is_customer(q.customer_id) for q in listed)
    assert all(asker.is_customer(lead.customer_id) for lead in leads)
