"""A filter is a read: the text search matches only what the principal may read of customers.

Its time bounds are timezone-aware: a naive bound is refused naming its field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import attrs
import pytest

from bookingcore import (
    BookingFilter,
    CustomerFilter,
    CustomerId,
    PartnerId,
    Principal,
    SlotFilter,
    StaffId,
    StaffRole,
    ValidationError,
)
from bookingcore.domain import Booking, Customer
from bookingcore.domain.certificates import CertificateFilter
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


class TestTimeBounds:
    """Time bounds of every list filter are timezone-aware, as everywhere else."""

    @pytest.mark.parametrize(
        ("kind", "field"),
        [
            (BookingFilter, "starts_from"),
            (BookingFilter, "starts_before"),
            (BookingFilter, "created_from"),
            (BookingFilter, "created_before"),
            (CustomerFilter, "created_from"),
            (CustomerFilter, "created_before"),
            (SlotFilter, "starts_from"),
            (SlotFilter, "starts_before"),
        ],
    )
    def test_a_naive_bound_is_refused_naming_its_field(self, kind: type, field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            kind(**{field: datetime(2026, 5, 1, 9, 0)})  # noqa: DTZ001 - the naive input under test
        assert [(e.field, e.code) for e in caught.value.errors] == [(field, "naive_datetime")]

    def test_aware_bounds_in_any_zone_are_taken(self) -> None:
        ist = timezone(timedelta(hours=5, minutes=30))
        query = BookingFilter(created_from=datetime(2026, 5, 1, 9, 0, tzinfo=ist))
        assert query.created_from == datetime(2026, 5, 1, 3, 30, tzinfo=UTC)
        assert SlotFilter(starts_before=None).starts_before is None

    def test_a_bound_that_is_no_datetime_is_refused_naming_its_field(self) -> None:
        with pytest.raises(ValidationError) as caught:
            CustomerFilter(created_before="2026-05-01")  # type: ignore[arg-type]
        assert [(e.field, e.code) for e in caught.value.errors] == [
            ("created_before", "invalid_type")
        ]

    def test_a_naive_certificate_expiry_bound_is_refused_naming_its_field(self) -> None:
        with pytest.raises(ValidationError) as caught:
            CertificateFilter(expires_before=datetime(2026, 5, 1))  # noqa: DTZ001 - under test
        assert [(e.field, e.code) for e in caught.value.errors] == [
            ("expires_before", "naive_datetime")
        ]
