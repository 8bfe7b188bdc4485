"""The partner service: registration, credentials, authentication, rate limits,
visibility, activation, settings and allowed locations."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from bookingcore import (
    AuthenticationError,
    BookingCore,
    BookingRequest,
    CustomerDetails,
    CustomerId,
    DuplicateError,
    LocationId,
    Money,
    NewTraveler,
    NotFoundError,
    PageRequest,
    PartnerId,
    PermissionDeniedError,
    Principal,
    RateLimitedError,
    Settings,
    StaffId,
    StaffRole,
    StaleVersionError,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Location, Partner, Slot
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.partners import hash_api_secret
from bookingcore.domain.webhooks import SIGNATURE_HEADER, verify
from bookingcore.services import WebhookSettings
from bookingcore.services.partners import PartnerLimits, PartnerRegistration
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.auth import JwtTokenSigner
from bookingcore_adapters.memory import MemoryRateLimiter, MemoryStore


@pytest.fixture
def goa(core: BookingCore, admin: Principal) -> Location:
    return core.catalog.add_location("GOA", "Goa", principal=admin)


@pytest.fixture
def manali(core: BookingCore, admin: Principal) -> Location:
    return core.catalog.add_location("MANALI", "Manali", principal=admin)


def _registration(core: BookingCore, principal: Principal, **fields: Any) -> PartnerRegistration:
    values: dict[str, Any] = {
        "name": "Trips",
        "company_name": "Trips Ltd",
        "contact_email": "ops@trips.example",
    }
    return core.partners.register(principal=principal, **(values | fields))


def _register(core: BookingCore, principal: Principal, **fields: Any) -> Partner:
    return _registration(core, principal, **fields).partner


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

    def test_the_audit_shows_a_webhook_url_with_its_password_masked(
        self, core: BookingCore, admin: Principal
    ) -> None:
        """The partner keeps the URL as given (its webhooks go there); its history never
        shows the password, and a changed password still leaves an entry."""
        url = "https://hooks:s3cret-1@trips.example/hooks"
        partner = _register(core, admin, webhook_url=url)
        assert partner.webhook_url == url
        core.partners.update(
            partner.id, principal=admin, webhook_url="https://hooks:s3cret-2@trips.example/hooks"
        )
        updated, created = core.partners.history(partner.id, principal=admin).items
        masked = "https://hooks:***@trips.example/hooks"
        assert created.new_values["webhook_url"] == masked
        assert (updated.old_values, updated.new_values) == (
            {"webhook_url": masked},
            {"webhook_url": masked},
        )
        assert "s3cret" not in repr((created.new_values, updated.old_values, updated.new_values))

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

    @pytest.mark.parametrize(
        "url",
        [
            "https://[::1/hooks",  # urlsplit's own ValueError
            "https://:443/hooks",  # a port, no host
            "http://@/hooks",
            "https://user@/hooks",
            "https://exa mple.com/hooks",
            "https://example.com/hooks\nX-Injected: 1",
            "https://example.com\t/hooks",
            "https://example.com/a b",
            "https://example.com:99999/hooks",
            "https://example.com:port/hooks",
        ],
    )
    def test_a_webhook_url_without_a_usable_host_or_port_is_a_validation_error(
        self, core: BookingCore, admin: Principal, store: MemoryStore, url: str
    ) -> None:
        """Each was stored (or escaped as a bare ValueError) and only failed, or was
        retried to death, when a webhook went out."""
        with pytest.raises(ValidationError) as caught:
            _register(core, admin, webhook_url=url)
        assert caught.value.fields == ("webhook_url",)
        assert caught.value.errors[0].code == "invalid_url"
        assert store.count("partners") == 0
        partner = _register(core, admin, webhook_url="https://ok.example/hooks")
        with pytest.raises(ValidationError) as caught:
            core.partners.update(partner.id, principal=admin, webhook_url=url)
        assert caught.value.fields == ("webhook_url",)
        assert core.partners.get(partner.id, principal=admin).webhook_url == (
            "https://ok.example/hooks"
        )

    @pytest.mark.parametrize(
        "url",
        [
            "https://partner.example.com/hooks?token=abc",
            "http://8.8.8.8:8080/hooks",
            "https://[2606:4700:4700::1111]:8443/hooks",
            "https://bücher.example/hooks",
            "HTTPS://Partner.Example.com",
        ],
    )
    def test_a_webhook_url_with_a_host_is_accepted(
        self, core: BookingCore, admin: Principal, url: str
    ) -> None:
        assert _register(core, admin, webhook_url=url).webhook_url == url

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8080/hooks",
            "http://127.1/hooks",  # an older IPv4 form of the same
            "http://2130706433/hooks",  # and another
            "http://[::1]/hooks",
            "http://[::ffff:127.0.0.1]/hooks",
            "https://10.1.2.3/hooks",
            "https://172.16.0.9/hooks",
            "https://192.168.1.20/hooks",
            "http://169.254.169.254/latest/meta-data/",  # the cloud's metadata service
            "http://169.254.169.254./latest/meta-data/",  # the same, fully qualified
            "https://[fd12:3456::1]/hooks",  # unique-local IPv6
            "https://[fe80::1]/hooks",
            "https://100.64.0.1/hooks",  # shared (carrier-grade NAT)
            "http://0.0.0.0:8080/hooks",
            "https://224.0.0.1/hooks",
            "https://[2001:db8::1]/hooks",  # documentation
            "http://localhost:8080/hooks",
            "http://api.LOCALHOST/hooks",
            "https://user:s3cret@127.0.0.1/hooks",
        ],
    )
    def test_a_webhook_url_at_a_non_public_address_is_refused(
        self, core: BookingCore, admin: Principal, store: MemoryStore, url: str
    ) -> None:
        """Server-side request forgery: a partner's webhook URL may not aim the host's
        worker at its own machine, its network or its cloud's metadata service."""
        with pytest.raises(ValidationError) as caught:
            _register(core, admin, webhook_url=url)
        assert caught.value.fields == ("webhook_url",)
        assert caught.value.errors[0].code == "private_address"
        assert "s3cret" not in str(caught.value)
        assert store.count("partners") == 0
        partner = _register(core, admin, webhook_url="https://ok.example/hooks")
        with pytest.raises(ValidationError) as caught:
            core.partners.update(partner.id, principal=admin, webhook_url=url)
        assert caught.value.errors[0].code == "private_address"
        assert core.partners.get(partner.id, principal=admin).webhook_url == (
            "https://ok.example/hooks"
        )

    def test_a_host_that_allows_private_addresses_accepts_them(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=clock,
            webhook_settings=WebhookSettings(allow_private_addresses=True),
        )
        partner = _register(core, admin, webhook_url="http://127.0.0.1:8080/hooks")
        assert partner.webhook_url == "http://127.0.0.1:8080/hooks"
        changed = core.partners.update(
            partner.id, principal=admin, webhook_url="http://192.168.1.20/hooks"
        )
        assert changed.webhook_url == "http://192.168.1.20/hooks"

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

    def test_a_contact_email_differing_only_in_case_is_refused_naming_the_partner(
        self, core: BookingCore, admin: Principal, store: MemoryStore
    ) -> None:
        first = _register(core, admin, contact_email="Ops@trips.example")
        with pytest.raises(DuplicateError) as caught:
            _register(core, admin, name="Copy", contact_email="ops@trips.example")
        assert caught.value.existing_id == first.id
        assert "Ops@trips.example" in str(caught.value)  # the address as it is stored
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

    def test_partners_come_newest_first_a_page_at_a_time_and_can_be_searched(
        self, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        made = []
        for n, name in enumerate(["Blue Reef", "Atlas", "Reef Divers"]):
            made.append(_register(core, admin, name=name, contact_email=f"ops{n}@p.example"))
            clock.advance(minutes=1)
        first = core.partners.list(PageRequest(limit=2), principal=admin)
        assert [p.id for p in first] == [made[2].id, made[1].id]
        rest = core.partners.list(PageRequest(limit=2, cursor=first.next_cursor), principal=admin)
        assert ([p.id for p in rest], rest.next_cursor) == ([made[0].id], None)
        found = core.partners.list(principal=admin, search="  reef ")
        assert [p.id for p in found] == [made[2].id, made[0].id]
        core.partners.set_active(made[2].id, False, principal=admin)
        active = core.partners.list(principal=admin, search="REEF", only_active=True)
        assert [p.id for p in active] == [made[0].id]
        with pytest.raises(ValidationError) as caught:
            core.partners.list(principal=admin, search="x" * 201)
        assert caught.value.errors[0].field == "search"


class TestUpdate:
    def test_only_the_given_fields_change_and_the_change_is_audited(
        self, core: BookingCore, admin: Principal
    ) -> None:
        partner = _register(core, admin, contact_phone="9876543210", commission_rate="10")
        changed = core.partners.update(
            partner.id,
            principal=admin,
            name="Trips & Treks",
            contact_email="desk@trips.example",
            commission_rate="12.5",
            expected_version=partner.version,
        )
        assert changed.name == "Trips & Treks"
        assert str(changed.contact_email) == "desk@trips.example"
        assert changed.commission_rate == Decimal("12.50")
        assert changed.company_name == "Trips Ltd"
        assert changed.contact_phone is not None
        assert changed.contact_phone.e164 == "+919876543210"
        assert changed.api_key == partner.api_key
        assert changed.version == partner.version + 1
        read = core.partners.get(partner.id, principal=admin)
        assert (read.name, read.version) == ("Trips & Treks", changed.version)
        updated, _ = core.partners.history(partner.id, principal=admin)
        assert updated.action is AuditAction.UPDATED
        assert set(updated.new_values) == {"name", "contact_email", "commission_rate"}
        assert updated.old_values["name"] == "Trips"

    def test_none_clears_the_phone_the_commission_and_the_webhook_url(
        self, core: BookingCore, admin: Principal
    ) -> None:
        partner = _register(
            core,
            admin,
            contact_phone="9876543210",
            commission_rate="10",
            webhook_url="https://trips.example/hooks",
        )
        changed = core.partners.update(
            partner.id, principal=admin, contact_phone=None, commission_rate=None, webhook_url=None
        )
        assert (changed.contact_phone, changed.commission_rate, changed.webhook_url) == (
            None,
            None,
            None,
        )

    def test_changing_nothing_writes_nothing(self, core: BookingCore, admin: Principal) -> None:
        partner = _register(core, admin)
        same = core.partners.update(partner.id, principal=admin, name="Trips")
        assert same.version == partner.version
        assert len(core.partners.history(partner.id, principal=admin).items) == 1

    def test_every_bad_field_is_reported_at_once_and_nothing_changes(
        self, core: BookingCore, admin: Principal
    ) -> None:
        partner = _register(core, admin)
        with pytest.raises(ValidationError) as caught:
            core.partners.update(
                partner.id,
                principal=admin,
                name=" ",
                contact_email="not-an-email",
                contact_phone="12",
                commission_rate="101",
                webhook_url="ftp://trips.example",
            )
        assert set(caught.value.fields) == {
            "name",
            "contact_email",
            "contact_phone",
            "commission_rate",
            "webhook_url",
        }
        assert core.partners.get(partner.id, principal=admin).version == partner.version

    def test_another_partners_contact_email_is_refused(
        self, core: BookingCore, admin: Principal
    ) -> None:
        first = _register(core, admin)
        second = _register(core, admin, contact_email="ops@treks.example")
        with pytest.raises(DuplicateError) as caught:
            core.partners.update(second.id, principal=admin, contact_email="ops@trips.example")
        assert caught.value.existing_id == first.id
        kept = core.partners.update(first.id, principal=admin, contact_email="ops@trips.example")
        assert kept.version == first.version

    def test_another_case_of_another_partners_email_is_refused_but_of_its_own_allowed(
        self, core: BookingCore, admin: Principal
    ) -> None:
        first = _register(core, admin, contact_email="ops@trips.example")
        second = _register(core, admin, contact_email="ops@treks.example")
        with pytest.raises(DuplicateError) as caught:
            core.partners.update(second.id, principal=admin, contact_email="OPS@trips.example")
        assert caught.value.existing_id == first.id
        assert core.partners.get(second.id, principal=admin).version == second.version
        recased = core.partners.update(first.id, principal=admin, contact_email="Ops@trips.example")
        assert recased.contact_email.value == "Ops@trips.example"
        assert recased.version == first.version + 1
        updated, _ = core.partners.history(first.id, principal=admin)
        assert updated.old_values == {"contact_email": "ops@trips.example"}
        assert updated.new_values == {"contact_email": "Ops@trips.example"}

    def test_a_stale_version_is_refused(self, core: BookingCore, admin: Principal) -> None:
        partner = _register(core, admin)
        core.partners.update(partner.id, principal=admin, name="Renamed")
        with pytest.raises(StaleVersionError):
            core.partners.update(
                partner.id, principal=admin, name="Again", expected_version=partner.version
            )
        assert core.partners.get(partner.id, principal=admin).name == "Renamed"

    def test_only_partner_managers_may_edit_and_a_partner_not_even_itself(
        self, core: BookingCore, admin: Principal
    ) -> None:
        partner = _register(core, admin)
        advisor = Principal.staff(StaffId(uuid4()), StaffRole.ADVISOR)
        for principal in (advisor, Principal.partner(partner.id)):
            with pytest.raises(PermissionDeniedError):
                core.partners.update(partner.id, principal=principal, commission_rate="50")
        assert core.partners.get(partner.id, principal=admin).commission_rate is None

    def test_an_unknown_partner_is_not_found(self, core: BookingCore, admin: Principal) -> None:
        with pytest.raises(NotFoundError):
            core.partners.update(PartnerId(uuid4()), principal=admin, name="Nobody")


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
    ).partner
    assert partner.commission_rate == Decimal("15.00")


class TestCredentials:
    def test_registration_hands_out_the_key_and_secret_once_and_keeps_only_a_hash(
        self, core: BookingCore, admin: Principal, store: MemoryStore
    ) -> None:
        registration = _registration(core, admin)
        partner = registration.partner
        assert registration.api_key == partner.api_key
        assert registration.api_secret.startswith("sk_")
        assert len(registration.api_secret) >= len("sk_") + 43  # 32 random bytes
        stored = core.partners.get(partner.id, principal=admin)
        assert stored.api_secret_hash == hash_api_secret(registration.api_secret)
        assert stored.api_secret_last4 == registration.api_secret[-4:]
        assert registration.api_secret not in repr(stored.__dict__)
        assert registration.api_secret not in repr(registration)

    def test_each_partner_gets_its_own_secret_and_webhook_secret(
        self, core: BookingCore, admin: Principal
    ) -> None:
        first = _registration(core, admin)
        second = _registration(core, admin, contact_email="ops@other.example")
        assert first.api_secret != second.api_secret
        assert first.partner.webhook_secret != second.partner.webhook_secret

    def test_a_partner_gets_a_webhook_signing_secret_at_registration(
        self, core: BookingCore, admin: Principal
    ) -> None:
        partner = _register(core, admin, webhook_url="https://trips.example/hooks")
        assert partner.webhook_secret is not None
        assert partner.webhook_secret.startswith("whsec_")
        assert partner.webhook_secret not in repr(partner)
        assert partner.api_secret_hash is not None
        assert partner.api_secret_hash not in repr(partner)

    def test_outgoing_webhooks_are_signed_with_the_partners_secret(
        self, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        partner = _register(core, admin, webhook_url="https://trips.example/hooks")
        assert partner.webhook_secret is not None
        request = partner.signed_webhook({"event": "booking.created"}, now=clock.now())
        assert request.url == "https://trips.example/hooks"
        verify(
            partner.webhook_secret,
            request.body,
            request.headers[SIGNATURE_HEADER],
            now=clock.now(),
        )

    def test_a_webhook_needs_a_url(self, core: BookingCore, admin: Principal) -> None:
        partner = _register(core, admin)
        with pytest.raises(ValidationError) as caught:
            partner.signed_webhook({"event": "booking.created"}, now=FixedClock().now())
        assert caught.value.fields == ("webhook_url",)


class TestAuthenticate:
    def test_the_key_and_secret_give_the_partner_principal(
        self, core: BookingCore, admin: Principal
    ) -> None:
        registration = _registration(core, admin)
        principal = core.partners.authenticate(registration.api_key, registration.api_secret)
        assert principal == Principal.partner(registration.partner.id)
        assert principal.is_partner(registration.partner.id)

    def test_the_callers_address_and_agent_are_kept_for_the_audit_trail(
        self, core: BookingCore, admin: Principal
    ) -> None:
        registration = _registration(core, admin)
        principal = core.partners.authenticate(
            registration.api_key,
            registration.api_secret,
            client_ip="203.0.113.7",
            user_agent="trips-sdk/1.2",
        )
        assert principal.origin is not None
        assert principal.origin.ip_address == "203.0.113.7"
        assert principal.origin.user_agent == "trips-sdk/1.2"
        customer = core.customers.register("+919800000001", principal=principal).customer
        (entry,) = core.audit.trail("customer", customer.id, principal=admin)
        assert (entry.ip_address, entry.user_agent) == ("203.0.113.7", "trips-sdk/1.2")

    def test_every_failure_gives_the_same_answer(
        self, core: BookingCore, admin: Principal, caplog: pytest.LogCaptureFixture
    ) -> None:
        registration = _registration(core, admin)
        inactive = _registration(core, admin, contact_email="ops@gone.example")
        core.partners.set_active(inactive.partner.id, False, principal=admin)
        attempts = [
            ("pk_nobody", registration.api_secret),
            (registration.api_key, "sk_wrong"),
            (registration.api_key, ""),
            ("", ""),
            (registration.api_key, registration.api_secret + "x"),
            (registration.api_key.upper(), registration.api_secret),
            (inactive.api_key, inactive.api_secret),
            ("pk_" + "x" * 10_000, "sk_" + "y" * 10_000),
        ]
        messages = set()
        with caplog.at_level(logging.INFO, logger="bookingcore.partners"):
            for key, secret in attempts:
                with pytest.raises(AuthenticationError) as caught:
                    core.partners.authenticate(key, secret)
                messages.add(caught.value.message)
        assert messages == {"invalid API key or secret"}
        assert len(caplog.records) == len(attempts)
        assert registration.api_secret not in caplog.text

    def test_values_that_are_not_text_are_refused_the_same_way(
        self, core: BookingCore, admin: Principal
    ) -> None:
        registration = _registration(core, admin)
        with pytest.raises(AuthenticationError):
            core.partners.authenticate(None, registration.api_secret)  # type: ignore[arg-type]
        with pytest.raises(AuthenticationError):
            core.partners.authenticate(registration.api_key, b"secret")  # type: ignore[arg-type]

    def test_a_deactivated_partner_can_no_longer_authenticate_until_reactivated(
        self, core: BookingCore, admin: Principal
    ) -> None:
        registration = _registration(core, admin)
        core.partners.set_active(registration.partner.id, False, principal=admin)
        with pytest.raises(AuthenticationError):
            core.partners.authenticate(registration.api_key, registration.api_secret)
        core.partners.set_active(registration.partner.id, True, principal=admin)
        assert core.partners.authenticate(
            registration.api_key, registration.api_secret
        ).is_partner()

    def test_a_partner_without_a_stored_secret_cannot_authenticate(
        self, core: BookingCore, admin: Principal, store: MemoryStore
    ) -> None:
        """A partner stored before secrets existed matches no secret, not even an empty one."""
        registration = _registration(core, admin)
        with store.unit_of_work() as uow:
            partner = uow.partners.get(registration.partner.id)
            assert partner is not None
            partner.api_secret_hash = None
            uow.commit()
        for secret in (registration.api_secret, ""):
            with pytest.raises(AuthenticationError):
                core.partners.authenticate(registration.api_key, secret)

    def test_allowed_ips_restrict_where_the_partner_may_call_from(
        self, core: BookingCore, admin: Principal
    ) -> None:
        registration = _registration(
            core, admin, settings={"allowed_ips": "203.0.113.7, 198.51.100.0/24, 2001:db8::/32"}
        )
        key, secret = registration.api_key, registration.api_secret
        for allowed in ("203.0.113.7", "198.51.100.200", "2001:db8::1"):
            assert core.partners.authenticate(key, secret, client_ip=allowed).is_partner()
        for refused in (None, "203.0.113.8", "not-an-ip", "10.0.0.1"):
            with pytest.raises(AuthenticationError):
                core.partners.authenticate(key, secret, client_ip=refused)

    def test_allowed_ips_match_an_ipv4_address_a_dual_stack_server_reports_as_ipv6(
        self, core: BookingCore, admin: Principal
    ) -> None:
        """A server listening on ``::`` sees IPv4 clients as ``::ffff:a.b.c.d``."""
        registration = _registration(core, admin, settings={"allowed_ips": "203.0.113.0/24"})
        key, secret = registration.api_key, registration.api_secret
        assert core.partners.authenticate(key, secret, client_ip="::ffff:203.0.113.7").is_partner()
        with pytest.raises(AuthenticationError):
            core.partners.authenticate(key, secret, client_ip="::ffff:198.51.100.7")


class TestRotation:
    def test_a_rotated_secret_works_and_the_old_one_stops(
        self, core: BookingCore, admin: Principal
    ) -> None:
        first = _registration(core, admin)
        rotated = core.partners.rotate_secret(first.partner.id, principal=admin)
        assert rotated.api_key == first.api_key
        assert rotated.api_secret != first.api_secret
        assert rotated.partner.api_secret_last4 == rotated.api_secret[-4:]
        assert rotated.partner.version == first.partner.version + 1
        with pytest.raises(AuthenticationError):
            core.partners.authenticate(first.api_key, first.api_secret)
        principal = core.partners.authenticate(rotated.api_key, rotated.api_secret)
        assert principal.id == first.partner.id

    def test_a_partner_may_rotate_its_own_secret_but_not_another_ones(
        self, core: BookingCore, admin: Principal
    ) -> None:
        mine = _registration(core, admin)
        theirs = _registration(core, admin, contact_email="ops@rival.example")
        as_me = Principal.partner(mine.partner.id)
        assert core.partners.rotate_secret(
            mine.partner.id, principal=as_me, current_secret=mine.api_secret
        ).api_secret
        with pytest.raises(NotFoundError):
            core.partners.rotate_secret(
                theirs.partner.id, principal=as_me, current_secret=mine.api_secret
            )
        with pytest.raises(NotFoundError):
            core.partners.rotate_webhook_secret(
                theirs.partner.id, principal=as_me, current_secret=theirs.api_secret
            )
        assert core.partners.authenticate(theirs.api_key, theirs.api_secret).is_partner()

    def test_a_partners_current_secret_is_checked_as_authentication_checks_it(
        self, core: BookingCore, admin: Principal, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Re-authentication costs what authentication costs: one hash, two constant-time
        comparisons, whether the secret is missing, wrong or right."""
        registration = _registration(core, admin)
        me = Principal.partner(registration.partner.id)
        calls: list[str] = []
        real_compare, real_sha256 = hmac.compare_digest, hashlib.sha256

        def compare(a: Any, b: Any) -> bool:
            calls.append("compare")
            return real_compare(a, b)

        def sha256(*args: Any) -> Any:
            calls.append("hash")
            return real_sha256(*args)

        monkeypatch.setattr(hmac, "compare_digest", compare)
        monkeypatch.setattr(hashlib, "sha256", sha256)
        for secret in (None, "sk_wrong"):
            calls.clear()
            with pytest.raises(AuthenticationError, match="current_secret"):
                core.partners.rotate_webhook_secret(
                    registration.partner.id, principal=me, current_secret=secret
                )
            assert sorted(calls) == ["compare", "compare", "hash"]
        calls.clear()
        core.partners.authenticate(registration.api_key, registration.api_secret)
        assert sorted(calls) == ["compare", "compare", "hash"]

    def test_an_inactive_partner_may_not_rotate_its_secret(
        self, core: BookingCore, admin: Principal
    ) -> None:
        registration = _registration(core, admin)
        core.partners.set_active(registration.partner.id, False, principal=admin)
        with pytest.raises(PermissionDeniedError):
            core.partners.rotate_secret(
                registration.partner.id, principal=Principal.partner(registration.partner.id)
            )

    @pytest.mark.parametrize("role", [StaffRole.STAFF, StaffRole.EDITOR, StaffRole.ADVISOR])
    def test_staff_without_manage_partners_may_not_rotate(
        self, core: BookingCore, admin: Principal, role: StaffRole
    ) -> None:
        registration = _registration(core, admin)
        staff = Principal.staff(StaffId(uuid4()), role)
        with pytest.raises(PermissionDeniedError):
            core.partners.rotate_secret(registration.partner.id, principal=staff)
        with pytest.raises(PermissionDeniedError):
            core.partners.rotate_webhook_secret(registration.partner.id, principal=staff)
        assert core.partners.authenticate(
            registration.api_key, registration.api_secret
        ).is_partner()

    def test_rotating_an_unknown_partner_is_not_found(
        self, core: BookingCore, admin: Principal
    ) -> None:
        with pytest.raises(NotFoundError):
            core.partners.rotate_secret(PartnerId(uuid4()), principal=admin)

    def test_a_rotated_webhook_secret_signs_from_then_on(
        self, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        partner = _register(core, admin, webhook_url="https://trips.example/hooks")
        old_secret = partner.webhook_secret
        assert old_secret is not None
        changed = core.partners.rotate_webhook_secret(partner.id, principal=admin)
        assert changed.webhook_secret is not None
        assert changed.webhook_secret.startswith("whsec_")
        assert changed.webhook_secret != old_secret
        stored = core.partners.get(partner.id, principal=admin)
        assert stored.webhook_secret == changed.webhook_secret
        request = stored.signed_webhook({"event": "x"}, now=clock.now())
        header = request.headers[SIGNATURE_HEADER]
        verify(changed.webhook_secret, request.body, header, now=clock.now())
        with pytest.raises(AuthenticationError):
            verify(old_secret, request.body, header, now=clock.now())

    def test_rotations_are_audited_without_any_secret(
        self, core: BookingCore, admin: Principal
    ) -> None:
        registration = _registration(core, admin, webhook_url="https://trips.example/hooks")
        partner_id = registration.partner.id
        as_partner = Principal.partner(partner_id).with_origin(ip_address="203.0.113.7")
        rotated = core.partners.rotate_secret(
            partner_id, principal=as_partner, current_secret=registration.api_secret
        )
        webhook = core.partners.rotate_webhook_secret(partner_id, principal=admin)
        entries = core.partners.history(partner_id, principal=admin)  # newest first
        assert [e.action for e in entries] == [
            AuditAction.CREDENTIALS_ROTATED,
            AuditAction.CREDENTIALS_ROTATED,
            AuditAction.CREATED,
        ]
        by_admin, by_partner, _ = entries
        assert by_partner.actor == as_partner.actor
        assert by_partner.ip_address == "203.0.113.7"
        assert dict(by_partner.new_values) == {"credential": "api_secret"}
        assert by_partner.reason == "api secret rotated"
        assert by_admin.actor == admin.actor
        assert dict(by_admin.new_values) == {"credential": "webhook_secret"}
        assert by_admin.reason == "webhook secret rotated"
        dumped = json.dumps([[dict(e.old_values), dict(e.new_values), e.reason] for e in entries])
        for secret in (
            registration.api_secret,
            rotated.api_secret,
            hash_api_secret(rotated.api_secret),
            rotated.api_secret[-4:],
            registration.partner.webhook_secret,
            webhook.webhook_secret,
        ):
            assert secret
            assert secret not in dumped


class TestSessions:
    """Bearer tokens a partner bought with its secret end with the secret or the partner."""

    @pytest.fixture
    def core(self, store: MemoryStore, clock: FixedClock) -> BookingCore:
        return BookingCore(
            uow_factory=store.unit_of_work,
            clock=clock,
            ids=SequentialIds(),
            token_signer=JwtTokenSigner({"k1": b"partner-tests-key-0123456789abcdef"}),
        )

    def test_rotating_the_secret_ends_the_partners_tokens(
        self, core: BookingCore, admin: Principal
    ) -> None:
        registration = _registration(core, admin)
        token = core.auth.sign_in_partner(
            registration.api_key, registration.api_secret
        ).tokens.access_token
        principal = core.auth.authenticate(token, expect="partner")
        assert principal == Principal.partner(registration.partner.id)
        rotated = core.partners.rotate_secret(
            registration.partner.id, principal=principal, current_secret=registration.api_secret
        )
        with pytest.raises(AuthenticationError):
            core.auth.authenticate(token, expect="partner")
        fresh = core.auth.sign_in_partner(rotated.api_key, rotated.api_secret)
        assert core.auth.authenticate(fresh.tokens.access_token, expect="partner") == principal

    def test_deactivating_the_partner_ends_its_tokens(
        self, core: BookingCore, admin: Principal
    ) -> None:
        registration = _registration(core, admin)
        token = core.auth.sign_in_partner(
            registration.api_key, registration.api_secret
        ).tokens.access_token
        core.partners.set_active(registration.partner.id, False, principal=admin)
        with pytest.raises(AuthenticationError):
            core.auth.authenticate(token, expect="partner")
        with pytest.raises(AuthenticationError):
            core.auth.sign_in_partner(registration.api_key, registration.api_secret)


def _limited_core(
    store: MemoryStore, clock: FixedClock, limits: PartnerLimits | None = None
) -> BookingCore:
    core = BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
        rate_limiter=MemoryRateLimiter(),
    )
    if limits is not None:
        core.partners.limits = limits
    return core


class TestRateLimits:
    def test_authentication_counts_against_the_partners_limit(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        core = _limited_core(store, clock, PartnerLimits(requests=3, window=timedelta(minutes=1)))
        registration = _registration(core, admin)
        for _ in range(3):
            core.partners.authenticate(registration.api_key, registration.api_secret)
        clock.advance(seconds=20)
        with pytest.raises(RateLimitedError) as caught:
            core.partners.authenticate(registration.api_key, registration.api_secret)
        assert caught.value.retry_after == 40
        assert caught.value.to_dict()["retry_after"] == 40
        clock.advance(seconds=40)
        assert core.partners.authenticate(
            registration.api_key, registration.api_secret
        ).is_partner()

    def test_wrong_secrets_do_not_use_up_the_partners_requests(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        core = _limited_core(store, clock, PartnerLimits(requests=2))
        registration = _registration(core, admin)
        for _ in range(5):
            with pytest.raises(AuthenticationError):
                core.partners.authenticate(registration.api_key, "sk_guess")
        core.partners.authenticate(registration.api_key, registration.api_secret)
        core.partners.authenticate(registration.api_key, registration.api_secret)

    def test_each_partner_has_its_own_count(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        core = _limited_core(store, clock, PartnerLimits(requests=1))
        one = _registration(core, admin)
        two = _registration(core, admin, contact_email="ops@two.example")
        core.partners.authenticate(one.api_key, one.api_secret)
        core.partners.authenticate(two.api_key, two.api_secret)
        with pytest.raises(RateLimitedError):
            core.partners.authenticate(one.api_key, one.api_secret)

    def test_check_rate_counts_requests_of_token_principals(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        core = _limited_core(store, clock, PartnerLimits(requests=2))
        partner = _register(core, admin)
        as_partner = Principal.partner(partner.id)
        first = core.partners.check_rate(as_partner)
        assert first is not None
        assert (first.allowed, first.remaining) == (True, 1)
        second = core.partners.check_rate(as_partner)
        assert second is not None
        assert second.remaining == 0
        with pytest.raises(RateLimitedError):
            core.partners.check_rate(as_partner)

    def test_check_rate_leaves_other_principals_alone(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        core = _limited_core(store, clock, PartnerLimits(requests=1))
        for _ in range(3):
            assert core.partners.check_rate(admin) is None
            assert core.partners.check_rate(Principal.customer(CustomerId(uuid4()))) is None

    def test_a_partners_own_setting_overrides_the_default_limit(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        core = _limited_core(store, clock, PartnerLimits(requests=1))
        generous = _registration(core, admin, settings={"rate_limit": "3/10"})
        for _ in range(3):
            core.partners.authenticate(generous.api_key, generous.api_secret)
        with pytest.raises(RateLimitedError) as caught:
            core.partners.authenticate(generous.api_key, generous.api_secret)
        assert caught.value.retry_after == 10
        core.partners.set_settings(generous.partner.id, {"rate_limit": "5"}, principal=admin)
        clock.advance(minutes=1)
        for _ in range(5):
            core.partners.check_rate(Principal.partner(generous.partner.id))
        with pytest.raises(RateLimitedError):
            core.partners.check_rate(Principal.partner(generous.partner.id))

    def test_bearer_token_sign_in_counts_against_the_same_limit(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=clock,
            ids=SequentialIds(),
            rate_limiter=MemoryRateLimiter(),
            token_signer=JwtTokenSigner({"k1": b"partner-tests-key-0123456789abcdef"}),
        )
        core.partners.limits = PartnerLimits(requests=2)
        registration = _registration(core, admin)
        core.auth.sign_in_partner(registration.api_key, registration.api_secret)
        core.partners.authenticate(registration.api_key, registration.api_secret)
        with pytest.raises(RateLimitedError):
            core.auth.sign_in_partner(registration.api_key, registration.api_secret)

    def test_without_a_rate_limiter_nothing_is_limited(
        self, core: BookingCore, admin: Principal
    ) -> None:
        registration = _registration(core, admin, settings={"rate_limit": "1"})
        for _ in range(5):
            core.partners.authenticate(registration.api_key, registration.api_secret)
        assert core.partners.check_rate(Principal.partner(registration.partner.id)) is None

    @pytest.mark.parametrize(
        ("fields", "field"),
        [({"requests": 0}, "requests"), ({"window": timedelta(0)}, "window")],
    )
    def test_limits_must_be_positive(self, fields: dict[str, Any], field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            PartnerLimits(**fields)
        assert caught.value.fields == (field,)


class TestSettings:
    def test_settings_are_kept_and_changes_audited(
        self, core: BookingCore, admin: Principal
    ) -> None:
        partner = _register(core, admin, settings={"rate_limit": "100/60", "tier": "gold"})
        assert partner.settings == {"rate_limit": "100/60", "tier": "gold"}
        changed = core.partners.set_settings(partner.id, {"tier": "silver"}, principal=admin)
        assert changed.settings == {"tier": "silver"}
        assert changed.version == partner.version + 1
        updated, created = core.partners.history(partner.id, principal=admin)  # newest first
        assert created.new_values["settings"] == {"rate_limit": "100/60", "tier": "gold"}
        assert updated.action is AuditAction.UPDATED
        assert dict(updated.new_values) == {"settings": {"tier": "silver"}}

    @pytest.mark.parametrize(
        ("settings", "field"),
        [
            ({"rate_limit": "many"}, "settings.rate_limit"),
            ({"rate_limit": "0"}, "settings.rate_limit"),
            ({"rate_limit": "10/0"}, "settings.rate_limit"),
            ({"allowed_ips": "203.0.113.7, nowhere"}, "settings.allowed_ips"),
            ({"tier": 3}, "settings.tier"),
        ],
    )
    def test_bad_settings_are_refused(
        self,
        core: BookingCore,
        admin: Principal,
        store: MemoryStore,
        settings: dict[str, Any],
        field: str,
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _register(core, admin, settings=settings)
        assert caught.value.fields == (field,)
        assert store.count("partners") == 0
        partner = _register(core, admin)
        with pytest.raises(ValidationError):
            core.partners.set_settings(partner.id, settings, principal=admin)
        assert core.partners.get(partner.id, principal=admin).settings == {}

    def test_a_partner_may_not_change_its_own_settings(
        self, core: BookingCore, admin: Principal
    ) -> None:
        partner = _register(core, admin)
        with pytest.raises(PermissionDeniedError):
            core.partners.set_settings(
                partner.id, {"rate_limit": "1000000"}, principal=Principal.partner(partner.id)
            )


class TestPartnerActionsAreAudited:
    """Seed 002's "audit logging: track all partner actions", with the partner as actor."""

    def test_a_partners_customer_booking_and_cancellation_each_leave_an_entry(
        self, core: BookingCore, admin: Principal, goa: Location, clock: FixedClock
    ) -> None:
        registration = _registration(core, admin, allowed_location_ids=[goa.id])
        as_partner = core.partners.authenticate(
            registration.api_key, registration.api_secret, client_ip="198.51.100.9"
        )
        slot = _slot(core, admin, goa, clock)
        customer = core.customers.register(
            "+919811100000", name="Asha Rao", principal=as_partner
        ).customer
        booking = core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)],
                customer_id=customer.id,
            ),
            principal=as_partner,
        )
        core.bookings.cancel(booking.id, principal=as_partner, reason="plans changed")

        (registered,) = core.audit.trail("customer", customer.id, principal=admin)
        created, cancelled = core.audit.trail("booking", booking.id, principal=admin)
        for entry in (registered, created, cancelled):
            assert entry.actor == Principal.partner(registration.partner.id).actor
            assert entry.ip_address == "198.51.100.9"
        assert registered.action is AuditAction.CREATED
        assert registered.new_values["partner_id"] == str(registration.partner.id)
        assert created.action is AuditAction.CREATED
        assert created.new_values["partner_id"] == str(registration.partner.id)
        assert created.new_values["source"] == "partner"
        assert cancelled.action is AuditAction.STATUS_CHANGED
        assert cancelled.new_values == {"status": "cancelled"}
        assert cancelled.reason == "plans changed"


class TestGracePeriod:
    """A rotation may keep the previous secret working for a while, so a partner can
    switch its clients (or its webhook receiver) without a moment of refused calls."""

    def test_both_secrets_work_until_the_grace_period_ends(
        self, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        first = _registration(core, admin)
        rotated = core.partners.rotate_secret(
            first.partner.id, principal=admin, keep_previous_for=timedelta(hours=2)
        )
        assert rotated.partner.previous_api_secret_expires_at == clock.now() + timedelta(hours=2)
        partner_id = first.partner.id
        assert core.partners.authenticate(first.api_key, first.api_secret).id == partner_id
        assert core.partners.authenticate(rotated.api_key, rotated.api_secret).id == partner_id
        clock.advance(hours=2, seconds=-1)
        assert core.partners.authenticate(first.api_key, first.api_secret).id == partner_id
        clock.advance(seconds=1)
        with pytest.raises(AuthenticationError, match="invalid API key or secret"):
            core.partners.authenticate(first.api_key, first.api_secret)
        assert core.partners.authenticate(rotated.api_key, rotated.api_secret).id == partner_id

    def test_without_a_grace_period_the_old_secret_stops_at_once(
        self, core: BookingCore, admin: Principal
    ) -> None:
        first = _registration(core, admin)
        rotated = core.partners.rotate_secret(first.partner.id, principal=admin)
        assert rotated.partner.previous_api_secret_hash is None
        assert rotated.partner.previous_api_secret_expires_at is None
        with pytest.raises(AuthenticationError):
            core.partners.authenticate(first.api_key, first.api_secret)

    def test_a_second_rotation_replaces_the_kept_secret(
        self, core: BookingCore, admin: Principal
    ) -> None:
        first = _registration(core, admin)
        grace = timedelta(days=1)
        second = core.partners.rotate_secret(
            first.partner.id, principal=admin, keep_previous_for=grace
        )
        third = core.partners.rotate_secret(
            first.partner.id, principal=admin, keep_previous_for=grace
        )
        with pytest.raises(AuthenticationError):
            core.partners.authenticate(first.api_key, first.api_secret)
        for kept in (second, third):
            assert core.partners.authenticate(kept.api_key, kept.api_secret).is_partner()
        fourth = core.partners.rotate_secret(first.partner.id, principal=admin)
        for dropped in (second, third):
            with pytest.raises(AuthenticationError):
                core.partners.authenticate(dropped.api_key, dropped.api_secret)
        assert core.partners.authenticate(fourth.api_key, fourth.api_secret).is_partner()
        stored = core.partners.get(first.partner.id, principal=admin)
        assert (stored.previous_api_secret_hash, stored.previous_api_secret_expires_at) == (
            None,
            None,
        )

    def test_every_outcome_costs_one_hash_and_the_same_comparisons(
        self,
        core: BookingCore,
        admin: Principal,
        clock: FixedClock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """No timing oracle: the current secret, the kept one, a wrong one, an expired
        one and an unknown key all hash once and compare against two stored hashes."""
        first = _registration(core, admin)
        rotated = core.partners.rotate_secret(
            first.partner.id, principal=admin, keep_previous_for=timedelta(hours=1)
        )
        other = _registration(core, admin, contact_email="ops@other.example")
        calls: list[str] = []
        real_compare, real_sha256 = hmac.compare_digest, hashlib.sha256

        def compare(a: Any, b: Any) -> bool:
            calls.append("compare")
            return real_compare(a, b)

        def sha256(*args: Any) -> Any:
            calls.append("hash")
            return real_sha256(*args)

        monkeypatch.setattr(hmac, "compare_digest", compare)
        monkeypatch.setattr(hashlib, "sha256", sha256)

        def cost(key: str, secret: str) -> list[str]:
            calls.clear()
            with contextlib.suppress(AuthenticationError):
                core.partners.authenticate(key, secret)
            return sorted(calls)

        costs = {
            "current": cost(rotated.api_key, rotated.api_secret),
            "previous": cost(first.api_key, first.api_secret),
            "wrong": cost(first.api_key, "sk_wrong"),
            "no grace": cost(other.api_key, "sk_wrong"),
            "unknown key": cost("pk_nobody", first.api_secret),
        }
        clock.advance(hours=2)
        costs["expired"] = cost(first.api_key, first.api_secret)
        assert costs["current"] == ["compare", "compare", "hash"]
        assert all(c == costs["current"] for c in costs.values()), costs

    def test_with_a_grace_period_the_partners_tokens_keep_working(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        """The old secret still signs in, so ending the tokens it bought would only make
        clients sign in again with it; a rotation without grace (a leak) ends them."""
        core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=clock,
            ids=SequentialIds(),
            token_signer=JwtTokenSigner({"k1": b"partner-tests-key-0123456789abcdef"}),
        )
        registration = _registration(core, admin)
        token = core.auth.sign_in_partner(
            registration.api_key, registration.api_secret
        ).tokens.access_token
        core.partners.rotate_secret(
            registration.partner.id, principal=admin, keep_previous_for=timedelta(minutes=30)
        )
        assert core.auth.authenticate(token, expect="partner").is_partner()
        core.partners.rotate_secret(registration.partner.id, principal=admin)
        with pytest.raises(AuthenticationError):
            core.auth.authenticate(token, expect="partner")

    @pytest.mark.parametrize(
        "grace",
        [timedelta(seconds=-1), timedelta(days=7, seconds=1), timedelta(days=3650), 3600, None],
    )
    def test_a_negative_or_absurd_grace_period_is_refused(
        self, core: BookingCore, admin: Principal, grace: Any
    ) -> None:
        registration = _registration(core, admin, webhook_url="https://trips.example/hooks")
        partner_id = registration.partner.id
        with pytest.raises(ValidationError) as api:
            core.partners.rotate_secret(partner_id, principal=admin, keep_previous_for=grace)
        with pytest.raises(ValidationError) as webhook:
            core.partners.rotate_webhook_secret(
                partner_id, principal=admin, keep_previous_for=grace
            )
        for raised in (api, webhook):
            assert [e.field for e in raised.value.errors] == ["keep_previous_for"]
        assert core.partners.authenticate(
            registration.api_key, registration.api_secret
        ).is_partner()
        stored = core.partners.get(partner_id, principal=admin)
        assert stored.webhook_secret == registration.partner.webhook_secret
        assert stored.version == registration.partner.version

    def test_the_longest_grace_period_is_accepted(
        self, core: BookingCore, admin: Principal
    ) -> None:
        registration = _registration(core, admin)
        rotated = core.partners.rotate_secret(
            registration.partner.id, principal=admin, keep_previous_for=timedelta(days=7)
        )
        assert rotated.partner.previous_api_secret_hash is not None

    def test_the_audit_entry_says_until_when_without_any_secret(
        self, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        registration = _registration(core, admin, webhook_url="https://trips.example/hooks")
        partner_id = registration.partner.id
        rotated = core.partners.rotate_secret(
            partner_id, principal=admin, keep_previous_for=timedelta(hours=1)
        )
        webhook = core.partners.rotate_webhook_secret(
            partner_id, principal=admin, keep_previous_for=timedelta(hours=3)
        )
        by_webhook, by_api, _ = core.partners.history(partner_id, principal=admin)
        api_until = (clock.now() + timedelta(hours=1)).isoformat()
        hook_until = (clock.now() + timedelta(hours=3)).isoformat()
        assert dict(by_api.new_values) == {
            "credential": "api_secret",
            "previous_valid_until": api_until,
        }
        assert by_api.reason == f"api secret rotated; the previous one works until {api_until}"
        assert dict(by_webhook.new_values) == {
            "credential": "webhook_secret",
            "previous_valid_until": hook_until,
        }
        assert by_webhook.reason == (
            f"webhook secret rotated; the previous one works until {hook_until}"
        )
        dumped = json.dumps(
            [[dict(e.old_values), dict(e.new_values), e.reason] for e in (by_webhook, by_api)]
        )
        for secret in (
            registration.api_secret,
            rotated.api_secret,
            hash_api_secret(registration.api_secret),
            registration.api_secret[-4:],
            registration.partner.webhook_secret,
            webhook.webhook_secret,
        ):
            assert secret
            assert secret not in dumped

    def test_webhooks_are_signed_with_both_secrets_until_the_grace_period_ends(
        self, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        partner = _register(core, admin, webhook_url="https://trips.example/hooks")
        old_secret = partner.webhook_secret
        assert old_secret is not None
        changed = core.partners.rotate_webhook_secret(
            partner.id, principal=admin, keep_previous_for=timedelta(hours=1)
        )
        new_secret = changed.webhook_secret
        assert new_secret is not None
        assert new_secret != old_secret
        stored = core.partners.get(partner.id, principal=admin)
        assert stored.previous_webhook_secret == old_secret
        assert stored.previous_webhook_secret_expires_at == clock.now() + timedelta(hours=1)
        assert old_secret not in repr(stored)
        during = stored.signed_webhook({"event": "x"}, now=clock.now())
        header = during.headers[SIGNATURE_HEADER]
        assert header.count("v1=") == 2
        for secret in (old_secret, new_secret):
            verify(secret, during.body, header, now=clock.now())
        after = clock.advance(hours=1)
        late = stored.signed_webhook({"event": "x"}, now=after)
        verify(new_secret, late.body, late.headers[SIGNATURE_HEADER], now=after)
        with pytest.raises(AuthenticationError):
            verify(old_secret, late.body, late.headers[SIGNATURE_HEADER], now=after)
