"""The partner service: registration, visibility, activation and allowed locations."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    CustomerDetails,
    CustomerId,
    DuplicateError,
    Location,
    LocationId,
    Money,
    NewTraveler,
    NotFoundError,
    Partner,
    PartnerId,
    PermissionDeniedError,
    Principal,
    Slot,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.testing import FixedClock
from bookingcore_adapters.memory import MemoryStore


@pytest.fixture
def goa(core: BookingCore, admin: Principal) -> Location:
    return core.catalog.add_location("GOA", "Goa", principal=admin)


@pytest.fixture
def manali(core: BookingCore, admin: Principal) -> Location:
    return core.catalog.add_location("MANALI", "Manali", principal=admin)


def _register(core: BookingCore, principal: Principal, **fields: Any) -> Partner:
    values: dict[str, Any] = {
        "name": "Trips",
        "company_name": "Trips Ltd",
        "contact_email": "ops@trips.example",
    }
    return core.partners.register(principal=principal, **(values | fields))


def _slot(core: BookingCore, admin: Principal, location: Location, clock: FixedClock) -> Slot:
    return core.catalog.create_slot(
        location_id=location.id,
        starts_at=clock.now() + timedelta(days=7),
        price_per_traveler=Money("1000", "INR"),
        capacity=10,
        principal=admin,
    )


def _book_as(core: BookingCore, principal: Principal, slot: Slot) -> None:
    core.bookings.book(
        BookingRequest(
            slot.id,
            [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)],
            customer=CustomerDetails(phone="+919876543210"),
        ),
        principal=principal,
    )


class TestRegister:
    def test_a_new_partner_gets_an_api_key_and_keeps_its_details(
        self, core: BookingCore, admin: Principal, goa: Location, store: MemoryStore
    ) -> None:
        partner = _register(
            core,
            admin,
            contact_email="Ops@Trips.EXAMPLE",
            contact_phone="098765 43210",
            commission_rate="12.5",
            webhook_url=" https://trips.example/hooks ",
            allowed_location_ids=[goa.id],
        )
        assert partner.api_key.startswith("pk_")
        assert len(partner.api_key) > len("pk_")
        assert partner.commission_rate == Decimal("12.50")
        assert partner.commission_rate.as_tuple().exponent == -2
        assert str(partner.contact_email) == "Ops@trips.example"
        assert str(partner.contact_phone) == "+919876543210"
        assert partner.webhook_url == "https://trips.example/hooks"
        assert partner.allowed_location_ids == frozenset({goa.id})
        assert partner.is_active
        assert store.count("partners") == 1

    def test_the_registered_partner_can_be_read_back(
        self, core: BookingCore, admin: Principal, goa: Location
    ) -> None:
        partner = _register(core, admin, allowed_location_ids=[goa.id], commission_rate=Decimal(7))
        stored = core.partners.get(partner.id, principal=admin)
        assert stored.allowed_location_ids == frozenset({goa.id})
        assert stored.commission_rate == Decimal("7.00")
        assert stored.api_key == partner.api_key

    def test_each_partner_gets_its_own_api_key(self, core: BookingCore, admin: Principal) -> None:
        first = _register(core, admin)
        second = _register(core, admin, contact_email="ops@other.example")
        assert first.api_key != second.api_key

    def test_a_partner_without_locations_may_book_nowhere(
        self, core: BookingCore, admin: Principal, goa: Location
    ) -> None:
        partner = _register(core, admin)
        assert partner.allowed_location_ids == frozenset()
        assert not partner.may_book_at(goa.id)

    def test_a_bad_contact_email_is_refused(
        self, core: BookingCore, admin: Principal, store: MemoryStore
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _register(core, admin, contact_email="not-an-email")
        assert caught.value.fields == ("contact_email",)
        assert store.count("partners") == 0

    @pytest.mark.parametrize("rate", [Decimal(101), "-1", "abc", "NaN"])
    def test_a_commission_outside_zero_to_one_hundred_is_refused(
        self, core: BookingCore, admin: Principal, store: MemoryStore, rate: object
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _register(core, admin, commission_rate=rate)
        assert caught.value.fields == ("commission_rate",)
        assert store.count("partners") == 0

    @pytest.mark.parametrize("url", ["ftp://x", "not a url", "https://"])
    def test_a_webhook_url_that_is_not_http_is_refused(
        self, core: BookingCore, admin: Principal, store: MemoryStore, url: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _register(core, admin, webhook_url=url)
        assert caught.value.fields == ("webhook_url",)
        assert caught.value.errors[0].code == "invalid_url"
        assert store.count("partners") == 0

    def test_an_unknown_location_is_refused(
        self, core: BookingCore, admin: Principal, goa: Location, store: MemoryStore
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _register(core, admin, allowed_location_ids=[goa.id, LocationId(uuid4())])
        assert caught.value.fields == ("allowed_location_ids",)
        assert caught.value.errors[0].code == "unknown_reference"
        assert store.count("partners") == 0

    def test_every_bad_field_is_reported_at_once(
        self, core: BookingCore, admin: Principal, store: MemoryStore
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _register(
                core,
                admin,
                contact_email="nope",
                commission_rate="101",
                webhook_url="ftp://x",
                allowed_location_ids=[LocationId(uuid4())],
            )
        assert set(caught.value.fields) == {
            "contact_email",
            "commission_rate",
            "webhook_url",
            "allowed_location_ids",
        }
        assert store.count("partners") == 0

    def test_a_second_partner_with_the_same_contact_email_is_refused(
        self, core: BookingCore, admin: Principal, store: MemoryStore
    ) -> None:
        first = _register(core, admin, contact_email="ops@trips.example")
        with pytest.raises(DuplicateError) as caught:
            _register(core, admin, name="Copy", contact_email="ops@TRIPS.example")
        assert caught.value.existing_id == first.id
        assert store.count("partners") == 1

    @pytest.mark.parametrize("role", [StaffRole.STAFF, StaffRole.EDITOR, StaffRole.ADVISOR])
    def test_staff_without_manage_partners_may_not_register(
        self, core: BookingCore, store: MemoryStore, role: StaffRole
    ) -> None:
        with pytest.raises(PermissionDeniedError):
            _register(core, Principal.staff(StaffId(uuid4()), role))
        assert store.count("partners") == 0

    def test_a_partner_may_not_register_partners(
        self, core: BookingCore, admin: Principal, store: MemoryStore
    ) -> None:
        existing = _register(core, admin)
        with pytest.raises(PermissionDeniedError):
            _register(core, Principal.partner(existing.id), contact_email="new@trips.example")
        assert store.count("partners") == 1


class TestGet:
    def test_a_partner_can_read_itself(self, core: BookingCore, admin: Principal) -> None:
        partner = _register(core, admin)
        assert (
            core.partners.get(partner.id, principal=Principal.partner(partner.id)).id == partner.id
        )

    def test_a_partner_gets_not_found_for_another_partner(
        self, core: BookingCore, admin: Principal
    ) -> None:
        mine = _register(core, admin)
        theirs = _register(core, admin, contact_email="ops@rival.example")
        with pytest.raises(NotFoundError):
            core.partners.get(theirs.id, principal=Principal.partner(mine.id))

    def test_a_customer_gets_not_found(self, core: BookingCore, admin: Principal) -> None:
        partner = _register(core, admin)
        with pytest.raises(NotFoundError):
            core.partners.get(partner.id, principal=Principal.customer(CustomerId(uuid4())))

    def test_an_unknown_partner_is_not_found(self, core: BookingCore, admin: Principal) -> None:
        with pytest.raises(NotFoundError):
            core.partners.get(PartnerId(uuid4()), principal=admin)

    def test_only_partner_managers_may_list_partners(
        self, core: BookingCore, admin: Principal
    ) -> None:
        partner = _register(core, admin)
        assert [p.id for p in core.partners.list(principal=admin)] == [partner.id]
        with pytest.raises(PermissionDeniedError):
            core.partners.list(principal=Principal.partner(partner.id))


class TestActivation:
    def test_an_inactive_partner_cannot_book(
        self,
        core: BookingCore,
        admin: Principal,
        goa: Location,
        clock: FixedClock,
        store: MemoryStore,
    ) -> None:
        partner = _register(core, admin, allowed_location_ids=[goa.id])
        slot = _slot(core, admin, goa, clock)
        changed = core.partners.set_active(partner.id, False, principal=admin)
        assert not changed.is_active
        assert changed.version == partner.version + 1
        with pytest.raises(PermissionDeniedError):
            _book_as(core, Principal.partner(partner.id), slot)
        assert store.count("bookings") == 0
        assert store.count("customers") == 0

    def test_a_reactivated_partner_can_book_again(
        self, core: BookingCore, admin: Principal, goa: Location, clock: FixedClock
    ) -> None:
        partner = _register(core, admin, allowed_location_ids=[goa.id])
        slot = _slot(core, admin, goa, clock)
        core.partners.set_active(partner.id, False, principal=admin)
        core.partners.set_active(partner.id, True, principal=admin)
        _book_as(core, Principal.partner(partner.id), slot)
        assert core.catalog.get_slot(slot.id, principal=admin).seats_held == 1

    def test_only_partner_managers_may_deactivate(
        self, core: BookingCore, admin: Principal
    ) -> None:
        partner = _register(core, admin)
        staff = Principal.staff(StaffId(uuid4()), StaffRole.STAFF)
        with pytest.raises(PermissionDeniedError):
            core.partners.set_active(partner.id, False, principal=staff)
        assert core.partners.get(partner.id, principal=admin).is_active

    def test_changing_an_unknown_partner_is_not_found(
        self, core: BookingCore, admin: Principal
    ) -> None:
        with pytest.raises(NotFoundError):
            core.partners.set_active(PartnerId(uuid4()), False, principal=admin)


class TestAllowedLocations:
    def test_a_partner_may_not_book_where_it_is_not_allowed(
        self,
        core: BookingCore,
        admin: Principal,
        goa: Location,
        manali: Location,
        clock: FixedClock,
        store: MemoryStore,
    ) -> None:
        partner = _register(core, admin, allowed_location_ids=[goa.id])
        with pytest.raises(PermissionDeniedError):
            _book_as(core, Principal.partner(partner.id), _slot(core, admin, manali, clock))
        assert store.count("bookings") == 0

    def test_set_allowed_locations_changes_where_the_partner_may_book(
        self,
        core: BookingCore,
        admin: Principal,
        goa: Location,
        manali: Location,
        clock: FixedClock,
    ) -> None:
        partner = _register(core, admin, allowed_location_ids=[goa.id])
        as_partner = Principal.partner(partner.id)
        at_goa = _slot(core, admin, goa, clock)
        at_manali = _slot(core, admin, manali, clock)

        changed = core.partners.set_allowed_locations(partner.id, [manali.id], principal=admin)

        assert changed.allowed_location_ids == frozenset({manali.id})
        _book_as(core, as_partner, at_manali)
        assert core.catalog.get_slot(at_manali.id, principal=admin).seats_held == 1
        with pytest.raises(PermissionDeniedError):
            _book_as(core, as_partner, at_goa)
        assert core.catalog.get_slot(at_goa.id, principal=admin).seats_held == 0

    def test_an_unknown_location_is_refused_and_nothing_changes(
        self, core: BookingCore, admin: Principal, goa: Location
    ) -> None:
        partner = _register(core, admin, allowed_location_ids=[goa.id])
        with pytest.raises(ValidationError) as caught:
            core.partners.set_allowed_locations(partner.id, [LocationId(uuid4())], principal=admin)
        assert caught.value.fields == ("allowed_location_ids",)
        stored = core.partners.get(partner.id, principal=admin)
        assert stored.allowed_location_ids == frozenset({goa.id})
        assert stored.version == partner.version

    def test_a_partner_may_not_widen_its_own_locations(
        self, core: BookingCore, admin: Principal, goa: Location, manali: Location
    ) -> None:
        partner = _register(core, admin, allowed_location_ids=[goa.id])
        with pytest.raises(PermissionDeniedError):
            core.partners.set_allowed_locations(
                partner.id, [goa.id, manali.id], principal=Principal.partner(partner.id)
            )
        assert core.partners.get(partner.id, principal=admin).allowed_location_ids == {goa.id}


def test_a_whole_number_commission_is_accepted(core: BookingCore, admin: Principal) -> None:
    """An int percentage is as good as a Decimal one."""
    partner = core.partners.register(
        name="Ints",
        company_name="Ints Ltd",
        contact_email="ints@example.com",
        commission_rate=15,
        principal=admin,
    )
    assert partner.commission_rate == Decimal("15.00")
