"""A filter is a read: the text search matches only what the principal may read of customers."""

from __future__ import annotations

from uuid import uuid4

import attrs

from bookingcore import BookingFilter, CustomerId, PartnerId, Principal, StaffId, StaffRole
from bookingcore.domain import Booking, Customer
from bookingcore.domain.policy import scope_bookings
from bookingcore.testing.builders import Builder


def _booking_of(customer: Customer, make: Builder, **fields: object) -> Booking:
    slot = make.slot(make.location().id)
    return make.booking(customer.id, slot, [make.traveler(customer.id).id], **fields)


class TestTextOverCustomers:
    def test_a_partner_matches_only_its_own_customers_profiles(self) -> None:
        make = Builder()
        partner = PartnerId(uuid4())
        mine = make.customer(name="Olu Ade", partner_id=partner)
        on_file = make.customer(name="Tara Singh")
        scoped = scope_bookings(Principal.partner(partner), BookingFilter(text="singh"))
        assert scoped.text_customers_of == partner
        theirs = _booking_of(on_file, make, partner_id=partner)
        assert not scoped.matches(theirs, on_file)
        assert BookingFilter(text="singh").matches(theirs, on_file)  # staff read everyone
        olu = attrs.evolve(scoped, text="olu")
        assert olu.matches(_booking_of(mine, make, partner_id=partner), mine)

    def test_an_advisor_matches_references_but_no_customer_profile(self) -> None:
        make = Builder()
        advisor = Principal.staff(StaffId(uuid4()), StaffRole.ADVISOR)
        customer = make.customer(name="Tara Singh")
        booking = _booking_of(customer, make, assignee_id=advisor.id)
        scoped = scope_bookings(advisor, BookingFilter(text="tara"))
        assert scoped.text_without_customers
        assert not scoped.matches(booking, customer)
        by_reference = scope_bookings(advisor, BookingFilter(text=booking.reference))
        assert by_reference.matches(booking, customer)

    def test_a_customer_still_finds_their_own_bookings_by_their_name(self) -> None:
        make = Builder()
        customer = make.customer(name="Tara Singh")
        scoped = scope_bookings(
            Principal.customer(CustomerId(customer.id)), BookingFilter(text="tara")
        )
        assert scoped.matches(_booking_of(customer, make), customer)
