"""Property 3: for random principals and bookings, no partner or customer ever reads or
changes what is not theirs, through any service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
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
from bookingcore.domain import Booking, policy
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore.testing import strategies as bst
from bookingcore_adapters.memory import MemoryStore

# (who books: index of a partner, or None for the business itself), drawn per booking;
# customers are drawn from four phones, so partners often book for the same person.
plans = st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 2)), st.integers(0, 3)), max_size=8)


def _refused(attempt: Callable[[], object], what: str) -> None:
    try:
        attempt()
    except (NotFoundError, PermissionDeniedError):
        return
    raise AssertionError(f"reached {what}")


@settings(max_examples=30)
@given(plan=plans, asker=st.integers(0, 6))
def test_no_partner_or_customer_reaches_another_ones_records(
    plan: list[tuple[int | None, int]], asker: int
) -> None:
    clock = FixedClock()
    core = BookingCore(
        uow_factory=MemoryStore().unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
        notifier=RecordingNotifier(),
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
        ).partner
        for i in range(3)
    ]
    bookings: list[Booking] = []
    for who, customer_number in plan:
        principal = admin if who is None else Principal.partner(partners[who].id)
        request = BookingRequest(
            slot.id,
            [NewTraveler(TravelerDetails(f"Guest {len(bookings)}"), is_primary=True)],
            customer=CustomerDetails(f"+91981111111{customer_number}"),
        )
        booking = core.bookings.book(request, principal=principal)
        core.communications.send(booking.id, "confirmation", principal=admin)
        bookings.append(booking)
    customer_ids = sorted({b.customer_id for b in bookings})
    askers = [Principal.partner(p.id) for p in partners] + [
        Principal.customer(c) for c in customer_ids
    ]
    principal = askers[asker % len(askers)]

    def owns(booking: Booking) -> bool:
        if principal.kind is PrincipalKind.PARTNER:
            return booking.partner_id == principal.id
        return booking.customer_id == principal.id

    mine = {b.id for b in bookings if owns(b)}
    assert {b.id for b in core.bookings.list(principal=principal).items} == mine
    for booking in bookings:
        if booking.id in mine:
            assert core.bookings.get(booking.id, principal=principal).id == booking.id
            continue
        for name, attempt in {
            "get": lambda b=booking: core.bookings.get(b.id, principal=principal),
            "get_by_reference": lambda b=booking: core.bookings.get_by_reference(
                b.reference, principal=principal
            ),
            "history": lambda b=booking: core.bookings.history(b.id, principal=principal),
            "documents": lambda b=booking: core.bookings.documents(b.id, principal=principal),
            "audit_trail": lambda b=booking: core.bookings.audit_trail(b.id, principal=principal),
            "messages": lambda b=booking: core.communications.for_booking(
                b.id, principal=principal
            ),
            "cancel": lambda b=booking: core.bookings.cancel(b.id, principal=principal),
            "transition": lambda b=booking: core.bookings.transition(
                b.id, "confirmed", principal=principal
            ),
            "update": lambda b=booking: core.bookings.update(
                b.id, BookingChanges(referral_source="x"), principal=principal
            ),
        }.items():
            _refused(attempt, f"{name} of booking {booking.reference} as {principal}")

    for customer_id in customer_ids:
        customer = core.customers.get(customer_id, principal=admin)
        visible = policy.can_view_customer(principal, customer)
        expected = (
            customer.partner_id == principal.id
            if principal.kind is PrincipalKind.PARTNER
            else customer.id == principal.id
        )
        assert visible == expected
        if visible:
            # Messages to a shared customer about another channel's bookings stay hidden.
            for message in core.communications.for_customer(customer_id, principal=principal):
                assert message.booking_id in mine
            history = core.customers.history(customer_id, principal=principal)
            assert {m.booking_id for m in history.communications} <= mine
            assert {b.id for b in history.bookings.items} <= mine
            continue
        assert core.customers.find_by_phone(customer.phone, principal=principal) is None
        for name, attempt in {
            "get": lambda c=customer_id: core.customers.get(c, principal=principal),
            "history": lambda c=customer_id: core.customers.history(c, principal=principal),
            "travelers": lambda c=customer_id: core.travelers.list(c, principal=principal),
            "messages": lambda c=customer_id: core.communications.for_customer(
                c, principal=principal
            ),
            "complete_profile": lambda c=customer_id: core.customers.complete_profile(
                c, name="Intruder", principal=principal
            ),
            "add_traveler": lambda c=customer_id: core.travelers.add(
                c, TravelerDetails("Intruder"), principal=principal
            ),
        }.items():
            _refused(attempt, f"{name} of customer {customer_id} as {principal}")
        for traveler in core.travelers.list(customer_id, principal=admin):
            _refused(
                partial(core.travelers.get, traveler.id, principal=principal),
                f"traveler {traveler.id} as {principal}",
            )

    for booking in bookings:
        for message in core.communications.for_booking(booking.id, principal=admin):
            customer = core.customers.get(message.customer_id, principal=admin)
            if booking.id in mine and policy.can_view_customer(principal, customer):
                assert core.communications.get(message.id, principal=principal) == message
            else:
                _refused(
                    partial(core.communications.get, message.id, principal=principal),
                    f"message {message.id} as {principal}",
                )
    seen_customers = {c.id for c in core.customers.list(principal=principal).items}
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
