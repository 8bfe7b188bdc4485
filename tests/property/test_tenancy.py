"""Property 3: for random principals and bookings, no partner or customer ever reads or
changes what is not theirs, through any service."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from bookingcore import (
    BookingChanges,
    BookingCore,
    BookingRequest,
    CustomerDetails,
    Money,
    NewTraveler,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    PrincipalKind,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import policy
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore.testing import strategies as bst
from bookingcore_adapters.memory import MemoryStore

# (who books: index of a partner, or None for the business itself), drawn per booking
plans = st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 2)), st.integers(0, 3)), max_size=8)


@settings(max_examples=30)
@given(plan=plans, asker=st.integers(0, 6), data=st.data())
def test_no_partner_or_customer_reaches_another_ones_records(
    plan: list[tuple[int | None, int]], asker: int, data: st.DataObject
) -> None:
    clock = FixedClock()
    core = BookingCore(
        uow_factory=MemoryStore().unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
    )
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    location = core.catalog.add_location("HERE", "Here", principal=admin)
    slot = core.catalog.create_slot(
        location_id=location.id,
        starts_at=clock.now() + timedelta(days=9),
        price_per_traveler=Money("10", "INR"),
        principal=admin,
    )
    partners = [
        core.partners.register(
            name=f"P{i}",
            company_name=f"Partner {i}",
            contact_email=f"p{i}@example.com",
            allowed_location_ids=[location.id],
            principal=admin,
        )
        for i in range(3)
    ]
    bookings = []
    for who, customer_number in plan:
        principal = admin if who is None else Principal.partner(partners[who].id)
        request = BookingRequest(
            slot.id,
            [NewTraveler(TravelerDetails(f"Guest {len(bookings)}"), is_primary=True)],
            customer=CustomerDetails(f"+91981111111{customer_number}"),
        )
        bookings.append(core.bookings.book(request, principal=principal))
    customer_ids = sorted({b.customer_id for b in bookings})
    askers = [Principal.partner(p.id) for p in partners] + [
        Principal.customer(c) for c in customer_ids
    ]
    principal = askers[asker % len(askers)]

    def owns(booking_customer: object, booking_partner: object) -> bool:
        if principal.kind is PrincipalKind.PARTNER:
            return booking_partner == principal.id
        return booking_customer == principal.id

    listed = {b.id for b in core.bookings.list(principal=principal)}
    assert listed == {b.id for b in bookings if owns(b.customer_id, b.partner_id)}
    for booking in bookings:
        if owns(booking.customer_id, booking.partner_id):
            assert core.bookings.get(booking.id, principal=principal).id == booking.id
            continue
        for attempt in (
            lambda b=booking: core.bookings.get(b.id, principal=principal),
            lambda b=booking: core.bookings.get_by_reference(b.reference, principal=principal),
            lambda b=booking: core.bookings.cancel(b.id, principal=principal),
            lambda b=booking: core.bookings.update(
                b.id, BookingChanges(referral_source="x"), principal=principal
            ),
        ):
            try:
                attempt()
            except (NotFoundError, PermissionDeniedError):
                continue
            raise AssertionError(f"{principal} reached booking {booking.reference}")
    for customer_id in customer_ids:
        customer = core.customers.get(customer_id, principal=admin)
        visible = policy.can_view_customer(principal, customer)
        expected = (
            customer.partner_id == principal.id
            if principal.kind is PrincipalKind.PARTNER
            else customer.id == principal.id
        )
        assert visible == expected
        if not visible:
            for attempt in (
                lambda c=customer_id: core.customers.get(c, principal=principal),
                lambda c=customer_id: core.travelers.list(c, principal=principal),
                lambda c=customer_id: core.customers.complete_profile(
                    c, name="Intruder", principal=principal
                ),
                lambda c=customer_id: core.travelers.add(
                    c, TravelerDetails("Intruder"), principal=principal
                ),
            ):
                try:
                    attempt()
                except (NotFoundError, PermissionDeniedError):
                    continue
                raise AssertionError(f"{principal} reached customer {customer_id}")
    seen_customers = {c.id for c in core.customers.list(principal=principal)}
    assert all(
        policy.can_view_customer(principal, core.customers.get(c, principal=admin))
        for c in seen_customers
    )


@given(principal_booking=st.tuples(bst.bookings(), st.sampled_from(PrincipalKind)), data=st.data())
def test_the_policy_lets_customers_and_partners_see_only_their_own(
    principal_booking: tuple[object, PrincipalKind], data: st.DataObject
) -> None:
    booking, kind = principal_booking
    same = data.draw(st.booleans())
    if kind is PrincipalKind.CUSTOMER:
        principal = Principal.customer(booking.customer_id if same else uuid4())  # type: ignore[attr-defined, arg-type]
        expected = same
    elif kind is PrincipalKind.PARTNER:
        partner_id = booking.partner_id if same and booking.partner_id else uuid4()  # type: ignore[attr-defined]
        principal = Principal.partner(partner_id)  # type: ignore[arg-type]
        expected = booking.partner_id == partner_id  # type: ignore[attr-defined]
    else:
        return
    assert policy.can_view_booking(principal, booking) is expected  # type: ignore[arg-type]
    assert policy.can_change_booking(principal, booking) is expected  # type: ignore[arg-type]
