"""CustomerService: phone-first registration, finding again, profile completion, lists."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from bookingcore import (
    BookingCore,
    CustomerFilter,
    EmailAddress,
    NotFoundError,
    PageRequest,
    PermissionDeniedError,
    Principal,
    StaffId,
    StaffRole,
    StaleVersionError,
    ValidationError,
)
from bookingcore.domain import BookingSource
from bookingcore.testing import FixedClock
from bookingcore_adapters.memory import MemoryStore


class TestRegistration:
    def test_phone_alone_registers_a_customer_with_an_incomplete_profile(
        self, core: BookingCore
    ) -> None:
        registration = core.customers.register("98765 43210", principal=Principal.system())
        customer = registration.customer
        assert registration.created
        assert customer.phone.e164 == "+919876543210"
        assert (customer.name, customer.email) == (None, None)
        assert not customer.is_profile_complete
        assert customer.source is BookingSource.DIRECT
        assert str(customer.created_by) == "system:system"

    def test_the_same_number_written_differently_finds_the_same_customer(
        self, core: BookingCore, store: MemoryStore
    ) -> None:
        system = Principal.system()
        first = core.customers.register("+91 98765 43210", principal=system)
        for spelling in ("098765-43210", "0091 98765 43210", "+91(98765)43210", "9876543210"):
            again = core.customers.register(spelling, principal=system)
            assert not again.created
            assert again.customer.id == first.customer.id
        assert store.count("customers") == 1
        found = core.customers.find_by_phone("+919876543210", principal=system)
        assert found is not None
        assert found.id == first.customer.id

    def test_registering_again_fills_only_empty_profile_fields(self, core: BookingCore) -> None:
        system = Principal.system()
        core.customers.register("+919876543210", name="Asha Rao", principal=system)
        again = core.customers.register(
            "+919876543210", name="Not Asha", email="asha@example.com", principal=system
        )
        assert again.customer.name == "Asha Rao"
        assert again.customer.email == EmailAddress("asha@example.com")

    @pytest.mark.parametrize(
        ("phone", "email", "fields"),
        [
            ("12", None, {"phone"}),
            ("", None, {"phone"}),
            ("+91 98765 43210", "not-an-email", {"email"}),
            ("abc", "a@", {"phone", "email"}),
        ],
    )
    def test_bad_phone_or_email_names_the_field_and_stores_nothing(
        self, core: BookingCore, store: MemoryStore, phone: str, email: str | None, fields: set[str]
    ) -> None:
        with pytest.raises(ValidationError) as error:
            core.customers.register(phone, email=email, principal=Principal.system())
        assert set(error.value.fields) == fields
        assert store.count("customers") == 0

    def test_customers_and_read_only_staff_may_not_register_customers(
        self, core: BookingCore
    ) -> None:
        for principal in (
            Principal.customer(uuid4()),  # type: ignore[arg-type]
            Principal.staff(StaffId(uuid4()), StaffRole.EDITOR),
        ):
            with pytest.raises(PermissionDeniedError):
                core.customers.register("+919876543210", principal=principal)

    def test_a_partners_customers_carry_its_id_and_another_partner_cannot_claim_them(
        self, core: BookingCore, admin: Principal
    ) -> None:
        first = core.partners.register(
            name="One", company_name="One Ltd", contact_email="one@example.com", principal=admin
        ).partner
        second = core.partners.register(
            name="Two", company_name="Two Ltd", contact_email="two@example.com", principal=admin
        ).partner
        made = core.customers.register(
            "+919876543210", name="Via One", principal=Principal.partner(first.id)
        ).customer
        assert (made.source, made.partner_id, made.created_by_partner_id) == (
            BookingSource.PARTNER,
            first.id,
            first.id,
        )
        with pytest.raises(PermissionDeniedError, match="did not create"):
            core.customers.register("+91 98765 43210", principal=Principal.partner(second.id))
        assert (
            core.customers.find_by_phone("+919876543210", principal=Principal.partner(second.id))
            is None
        )


class TestProfile:
    def test_a_customer_completes_their_own_profile(
        self, core: BookingCore, clock: FixedClock
    ) -> None:
        customer = core.customers.register("+919876543210", principal=Principal.system()).customer
        clock.advance(hours=1)
        me = Principal.customer(customer.id)
        done = core.customers.complete_profile(
            customer.id, name="  Asha   Rao ", email="Asha@Example.COM", principal=me
        )
        assert (done.name, done.email) == ("Asha Rao", EmailAddress("Asha@example.com"))
        assert done.is_profile_complete
        assert done.version == customer.version + 1
        assert done.updated_at == customer.created_at + timedelta(hours=1)
        assert core.customers.get(customer.id, principal=me) == done

    def test_bad_profile_fields_are_all_named_and_nothing_changes(self, core: BookingCore) -> None:
        customer = core.customers.register("+919876543210", principal=Principal.system()).customer
        me = Principal.customer(customer.id)
        with pytest.raises(ValidationError) as error:
            core.customers.complete_profile(customer.id, name="A", email="nope", principal=me)
        assert set(error.value.fields) == {"name", "email"}
        assert core.customers.get(customer.id, principal=me).version == customer.version

    def test_a_stale_version_is_refused(self, core: BookingCore) -> None:
        customer = core.customers.register("+919876543210", principal=Principal.system()).customer
        me = Principal.customer(customer.id)
        core.customers.complete_profile(customer.id, name="Asha", principal=me)
        with pytest.raises(StaleVersionError):
            core.customers.complete_profile(
                customer.id, name="Asha R", principal=me, expected_version=customer.version
            )

    def test_nobody_else_reads_or_changes_a_customer(self, core: BookingCore) -> None:
        customer = core.customers.register("+919876543210", principal=Principal.system()).customer
        stranger = Principal.customer(uuid4())  # type: ignore[arg-type]
        with pytest.raises(NotFoundError):
            core.customers.get(customer.id, principal=stranger)
        with pytest.raises(NotFoundError):
            core.customers.complete_profile(customer.id, name="Evil", principal=stranger)
        editor = Principal.staff(StaffId(uuid4()), StaffRole.EDITOR)
        assert core.customers.get(customer.id, principal=editor).id == customer.id
        with pytest.raises(PermissionDeniedError):
            core.customers.complete_profile(customer.id, name="Edited", principal=editor)


class TestListing:
    def test_staff_filter_customers_by_source_partner_and_text_newest_first(
        self, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        partner = core.partners.register(
            name="One", company_name="One Ltd", contact_email="one@example.com", principal=admin
        ).partner
        made = []
        for index, (source, principal) in enumerate(
            [
                ("walk_in", admin),
                (None, Principal.partner(partner.id)),
                ("phone", admin),
            ]
        ):
            clock.advance(minutes=1)
            made.append(
                core.customers.register(
                    f"+91990000000{index}",
                    name=f"Person {index}",
                    source=source,
                    principal=principal,
                ).customer
            )
        everyone = core.customers.list(principal=admin)
        assert [c.id for c in everyone] == [made[2].id, made[1].id, made[0].id]
        walk_ins = core.customers.list(
            CustomerFilter(sources=[BookingSource.WALK_IN]), principal=admin
        )
        assert [c.id for c in walk_ins] == [made[0].id]
        theirs = core.customers.list(CustomerFilter(partner_id=partner.id), principal=admin)
        assert [c.id for c in theirs] == [made[1].id]
        assert [
            c.id for c in core.customers.list(CustomerFilter(text="person 2"), principal=admin)
        ] == [made[2].id]
        page = core.customers.list(page=PageRequest(limit=2), principal=admin)
        assert len(page) == 2
        assert page.next_cursor is not None

    def test_a_partner_lists_only_its_own_customers_and_a_customer_only_themself(
        self, core: BookingCore, admin: Principal
    ) -> None:
        partner = core.partners.register(
            name="One", company_name="One Ltd", contact_email="one@example.com", principal=admin
        ).partner
        as_partner = Principal.partner(partner.id)
        theirs = core.customers.register("+919900000001", principal=as_partner).customer
        direct = core.customers.register("+919900000002", principal=admin).customer
        assert [c.id for c in core.customers.list(principal=as_partner)] == [theirs.id]
        with pytest.raises(PermissionDeniedError):
            core.customers.list(CustomerFilter(partner_id=uuid4()), principal=as_partner)  # type: ignore[arg-type]
        me = Principal.customer(direct.id)
        assert [c.id for c in core.customers.list(principal=me)] == [direct.id]
        with pytest.raises(PermissionDeniedError):
            core.customers.list(principal=Principal.staff(StaffId(uuid4()), StaffRole.ADVISOR))

    def test_a_malformed_cursor_is_a_validation_error_on_the_cursor(self) -> None:
        with pytest.raises(ValidationError) as error:
            PageRequest(cursor="definitely-not-ours")
        assert error.value.fields == ("cursor",)
        with pytest.raises(ValidationError) as error:
            PageRequest(limit=0)
        assert error.value.fields == ("limit",)
