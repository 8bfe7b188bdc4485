"""The audit trail: every change of a booking, customer, traveler or partner leaves one
entry saying who, when, from what to what and why; refused changes leave none; and
only staff with ``view_audit`` (and advisors, for their bookings) read it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import attrs
import pytest

from bookingcore import (
    BookingChanges,
    BookingCore,
    BookingRequest,
    CustomerId,
    EmailAddress,
    InvalidTransitionError,
    Money,
    NewTraveler,
    NotFoundError,
    PageRequest,
    PermissionDeniedError,
    PhoneNumber,
    Principal,
    RequestOrigin,
    StaffId,
    StaffRole,
    StaleVersionError,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import (
    Actor,
    AuditEntry,
    Booking,
    BookingSource,
    CommunicationStatus,
    Partner,
)
from bookingcore.domain.audit import AuditAction, audit_value, diff, snapshot
from bookingcore.testing import FixedClock
from bookingcore_adapters.memory import MemoryStore

ORIGIN = {"ip_address": "203.0.113.7", "user_agent": "pytest-agent/1.0"}


class World:
    """Two locations, a slot, a customer with a booking made by staff."""

    def __init__(self, core: BookingCore, admin: Principal, clock: FixedClock) -> None:
        self.core, self.admin, self.clock = core, admin, clock
        self.camp = core.catalog.add_location("CAMP", "Base camp", principal=admin)
        self.reef = core.catalog.add_location("REEF", "Dive centre", principal=admin)
        self.slot = core.catalog.create_slot(
            location_id=self.camp.id,
            starts_at=clock.now() + timedelta(days=10),
            price_per_traveler=Money("2500", "INR"),
            principal=admin,
        )
        self.customer = core.customers.register(
            "+919876543210", name="Asha Rao", principal=admin
        ).customer
        self.me = Principal.customer(self.customer.id)
        self.booking = self.book(self.customer.id)

    def book(
        self,
        customer_id: CustomerId,
        *,
        principal: Principal | None = None,
        name: str = "Asha Rao",
        internal_notes: str | None = "vip",
    ) -> Booking:
        return self.core.bookings.book(
            BookingRequest(
                self.slot.id,
                [NewTraveler(TravelerDetails(name), is_primary=True)],
                customer_id=customer_id,
                internal_notes=internal_notes,
            ),
            principal=principal or self.admin,
        )

    def trail(self, entity: str, entity_id: UUID) -> list[AuditEntry]:
        return list(self.core.audit.trail(entity, entity_id, principal=self.admin))


@pytest.fixture
def world(core: BookingCore, admin: Principal, clock: FixedClock) -> World:
    return World(core, admin, clock)


class TestBookings:
    def test_creating_a_booking_leaves_one_created_entry(
        self, world: World, admin: Principal, clock: FixedClock
    ) -> None:
        booking = world.booking
        [entry] = world.trail("booking", booking.id)
        assert entry.action is AuditAction.CREATED
        assert (entry.entity, entry.entity_id, entry.booking_id) == (
            "booking",
            booking.id,
            booking.id,
        )
        assert entry.actor == admin.actor
        assert entry.occurred_at == clock.now()
        assert entry.old_values == {}
        assert entry.new_values["reference"] == booking.reference
        assert entry.new_values["status"] == "pending"
        assert entry.new_values["total"] == "2500.00 INR"
        assert entry.new_values["customer_id"] == str(world.customer.id)
        assert entry.new_values["slot_id"] == str(world.slot.id)
        assert entry.new_values["lifecycle"] == "reservation"
        assert entry.new_values["partner_id"] is None
        assert isinstance(entry.new_values["source"], str)
        assert entry.reason is None
        json.dumps(dict(entry.new_values))  # plain JSON data

    def test_an_update_records_only_the_changed_fields_and_the_reason(
        self, world: World, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        when = clock.advance(minutes=5)
        core.bookings.update(
            world.booking.id,
            BookingChanges(referral_source="instagram", internal_notes="vip"),
            principal=admin,
            reason="customer called",
        )
        created, updated = world.trail("booking", world.booking.id)
        assert created.action is AuditAction.CREATED
        assert updated.action is AuditAction.UPDATED
        assert updated.old_values == {"referral_source": None}
        assert updated.new_values == {"referral_source": "instagram"}
        assert updated.changed_fields == ("referral_source",)
        assert updated.reason == "customer called"
        assert updated.occurred_at == when
        assert updated.booking_id == world.booking.id

    def test_an_update_that_changes_nothing_leaves_no_entry(
        self, world: World, core: BookingCore, admin: Principal
    ) -> None:
        core.bookings.update(
            world.booking.id, BookingChanges(internal_notes="vip"), principal=admin, reason="noop"
        )
        core.bookings.update(world.booking.id, BookingChanges(), principal=admin)
        assert [e.action for e in world.trail("booking", world.booking.id)] == [AuditAction.CREATED]

    def test_transitions_leave_status_changed_entries(
        self, world: World, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        clock.advance(minutes=1)
        core.bookings.transition(world.booking.id, "confirmed", principal=admin, note="paid")
        clock.advance(minutes=1)
        core.bookings.cancel(world.booking.id, principal=world.me, reason="sick")
        entries = world.trail("booking", world.booking.id)
        assert [e.action for e in entries] == [
            AuditAction.CREATED,
            AuditAction.STATUS_CHANGED,
            AuditAction.STATUS_CHANGED,
        ]
        _, confirmed, cancelled = entries
        assert (confirmed.old_values, confirmed.new_values) == (
            {"status": "pending"},
            {"status": "confirmed"},
        )
        assert confirmed.reason == "paid"
        assert confirmed.actor == admin.actor
        assert (cancelled.old_values, cancelled.new_values) == (
            {"status": "confirmed"},
            {"status": "cancelled"},
        )
        assert cancelled.reason == "sick"
        assert cancelled.actor == world.me.actor

    def test_the_booking_service_reads_the_same_trail(
        self, world: World, core: BookingCore, admin: Principal
    ) -> None:
        core.bookings.transition(world.booking.id, "confirmed", principal=admin)
        assert list(core.bookings.audit_trail(world.booking.id, principal=admin)) == world.trail(
            "booking", world.booking.id
        )


class TestCustomersAndTravelers:
    def test_registering_a_customer_leaves_a_created_entry(
        self, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        customer = core.customers.register(
            "098765 43210", name="Neha Shah", email="neha@example.com", principal=admin
        ).customer
        [entry] = core.audit.trail("customer", customer.id, principal=admin)
        assert entry.action is AuditAction.CREATED
        assert entry.entity == "customer"
        assert entry.booking_id is None
        assert entry.old_values == {}
        assert entry.new_values == {
            "phone": "+919876543210",
            "name": "Neha Shah",
            "email": "neha@example.com",
            "source": "direct",
            "partner_id": None,
        }
        assert entry.occurred_at == clock.now()

    def test_registering_the_same_number_again_changes_nothing_and_leaves_no_entry(
        self, core: BookingCore, admin: Principal
    ) -> None:
        customer = core.customers.register("+919876543210", name="Neha", principal=admin).customer
        core.customers.register("+91 98765 43210", name="Other", principal=admin)
        assert len(core.audit.trail("customer", customer.id, principal=admin)) == 1

    def test_completing_a_profile_records_the_old_and_new_name(
        self, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        customer = core.customers.register("+919876543210", principal=admin).customer
        clock.advance(hours=1)
        core.customers.complete_profile(
            customer.id, name="Neha Shah", principal=Principal.customer(customer.id)
        )
        created, updated = core.audit.trail("customer", customer.id, principal=admin)
        assert created.action is AuditAction.CREATED
        assert updated.action is AuditAction.UPDATED
        assert updated.old_values == {"name": None}
        assert updated.new_values == {"name": "Neha Shah"}
        assert updated.actor == Principal.customer(customer.id).actor
        assert updated.occurred_at == clock.now()

    def test_adding_updating_and_deleting_a_traveler(
        self, world: World, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        traveler = core.travelers.add(
            world.customer.id, TravelerDetails("Ravi", gender="male"), principal=world.me
        )
        clock.advance(minutes=1)
        core.travelers.update(
            traveler.id,
            TravelerDetails("Ravi", gender="male", age=30, special_requirements="Vegetarian"),
            principal=world.me,
        )
        clock.advance(minutes=1)
        core.travelers.delete(traveler.id, principal=admin)
        created, updated, deleted = world.trail("traveler", traveler.id)

        assert created.action is AuditAction.CREATED
        assert created.entity == "traveler"
        assert created.old_values == {}
        assert created.new_values["name"] == "Ravi"
        assert created.new_values["age"] is None
        assert created.new_values["gender"] == audit_value(traveler.gender)
        assert "customer_id" not in created.new_values
        assert "version" not in created.new_values

        assert updated.action is AuditAction.UPDATED
        assert updated.old_values == {"age": None, "special_requirements": None}
        assert updated.new_values == {"age": 30, "special_requirements": "Vegetarian"}
        assert updated.actor == world.me.actor

        assert deleted.action is AuditAction.DELETED
        assert deleted.actor == admin.actor
        assert (deleted.old_values, deleted.new_values) == ({}, {})

    def test_deleting_twice_leaves_one_entry(
        self, world: World, core: BookingCore, admin: Principal
    ) -> None:
        traveler = core.travelers.add(world.customer.id, TravelerDetails("Ravi"), principal=admin)
        core.travelers.delete(traveler.id, principal=admin)
        core.travelers.delete(traveler.id, principal=admin)
        assert [e.action for e in world.trail("traveler", traveler.id)] == [
            AuditAction.CREATED,
            AuditAction.DELETED,
        ]


class TestPartners:
    def register(self, core: BookingCore, world: World, admin: Principal) -> Partner:
        return core.partners.register(
            name="TrekMates",
            company_name="TrekMates Pvt Ltd",
            contact_email="ops@trekmates.example",
            contact_phone="+919811112222",
            allowed_location_ids=[world.camp.id],
            commission_rate="15",
            webhook_url="https://trekmates.example/hook",
            principal=admin,
        ).partner

    def test_register_deactivate_reactivate_and_relocate(
        self, world: World, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        partner = self.register(core, world, admin)
        clock.advance(minutes=1)
        core.partners.set_active(partner.id, False, principal=admin)
        clock.advance(minutes=1)
        core.partners.set_active(partner.id, True, principal=admin)
        clock.advance(minutes=1)
        core.partners.set_allowed_locations(
            partner.id, [world.reef.id, world.camp.id], principal=admin
        )
        entries = world.trail("partner", partner.id)
        assert [e.action for e in entries] == [
            AuditAction.CREATED,
            AuditAction.DEACTIVATED,
            AuditAction.ACTIVATED,
            AuditAction.UPDATED,
        ]
        created, deactivated, activated, relocated = entries
        assert created.new_values == {
            "name": "TrekMates",
            "company_name": "TrekMates Pvt Ltd",
            "contact_email": "ops@trekmates.example",
            "contact_phone": "+919811112222",
            "commission_rate": "15.00",
            "webhook_url": "https://trekmates.example/hook",
            "allowed_location_ids": [str(world.camp.id)],
            "is_active": True,
        }
        assert (deactivated.old_values, deactivated.new_values) == (
            {"is_active": True},
            {"is_active": False},
        )
        assert (activated.old_values, activated.new_values) == (
            {"is_active": False},
            {"is_active": True},
        )
        assert relocated.old_values == {"allowed_location_ids": [str(world.camp.id)]}
        assert relocated.new_values == {
            "allowed_location_ids": sorted([str(world.camp.id), str(world.reef.id)])
        }
        assert list(core.partners.history(partner.id, principal=admin)) == entries[::-1]
        older = core.partners.history(partner.id, PageRequest(limit=3), principal=admin)
        assert list(older) == entries[:-4:-1]
        rest = core.partners.history(
            partner.id, PageRequest(limit=3, cursor=older.next_cursor), principal=admin
        )
        assert (list(rest), rest.next_cursor) == (entries[-4::-1], None)

    def test_a_change_to_the_same_value_leaves_no_entry(
        self, world: World, core: BookingCore, admin: Principal
    ) -> None:
        partner = self.register(core, world, admin)
        core.partners.set_active(partner.id, True, principal=admin)
        core.partners.set_allowed_locations(partner.id, [world.camp.id], principal=admin)
        assert len(world.trail("partner", partner.id)) == 1

    def test_secrets_never_appear_in_the_partner_trail(
        self, world: World, core: BookingCore, admin: Principal
    ) -> None:
        partner = self.register(core, world, admin)
        core.partners.set_active(partner.id, False, principal=admin)
        core.partners.set_allowed_locations(partner.id, [world.reef.id], principal=admin)
        entries = world.trail("partner", partner.id)
        assert len(entries) == 3
        dumped = json.dumps([[dict(e.old_values), dict(e.new_values)] for e in entries])
        assert partner.api_key
        assert partner.api_key not in dumped
        for entry in entries:
            assert not {"api_key", "api_secret_hash", "api_secret_last4", "webhook_secret"} & set(
                entry.changed_fields
            )


class TestWhoAndFromWhere:
    def test_origin_and_actor_come_from_the_principal(
        self, world: World, core: BookingCore, admin: Principal
    ) -> None:
        staff = admin.with_origin(**ORIGIN)
        customer = core.customers.register("+919812345678", principal=staff).customer
        booking = world.book(customer.id, principal=staff, name="Ravi")
        core.bookings.transition(booking.id, "confirmed", principal=staff)
        traveler = core.travelers.add(customer.id, TravelerDetails("Mira"), principal=staff)
        entries = [
            *world.trail("customer", customer.id),
            *world.trail("booking", booking.id),
            *world.trail("traveler", traveler.id),
        ]
        assert len(entries) == 4
        for entry in entries:
            assert entry.ip_address == ORIGIN["ip_address"]
            assert entry.user_agent == ORIGIN["user_agent"]
            assert entry.origin == RequestOrigin(**ORIGIN)
            assert entry.actor == admin.actor

    def test_without_an_origin_none_is_recorded(self, world: World) -> None:
        [entry] = world.trail("booking", world.booking.id)
        assert (entry.ip_address, entry.user_agent) == (None, None)
        assert entry.origin == RequestOrigin()

    def test_the_system_is_recorded_by_name(self, world: World, core: BookingCore) -> None:
        job = Principal.system("payments-sync").with_origin(ip_address="198.51.100.1")
        core.bookings.transition(world.booking.id, "confirmed", principal=job)
        core.bookings.update(
            world.booking.id,
            BookingChanges(referral_source="google"),
            principal=Principal.system("importer"),
        )
        _, moved, edited = world.trail("booking", world.booking.id)
        assert moved.actor == Actor.system("payments-sync")
        assert (moved.ip_address, moved.user_agent) == ("198.51.100.1", None)
        assert edited.actor == Actor.system("importer")


class TestRefusedChanges:
    def test_a_refused_booking_change_leaves_no_entry(
        self, world: World, core: BookingCore, admin: Principal
    ) -> None:
        booking_id = world.booking.id
        with pytest.raises(ValidationError):
            core.bookings.update(
                booking_id, BookingChanges(referral_source="x" * 101), principal=admin
            )
        with pytest.raises(StaleVersionError):
            core.bookings.update(
                booking_id,
                BookingChanges(referral_source="google"),
                principal=admin,
                expected_version=world.booking.version + 5,
            )
        with pytest.raises(StaleVersionError):
            core.bookings.transition(booking_id, "confirmed", principal=admin, expected_version=99)
        with pytest.raises(InvalidTransitionError):
            core.bookings.transition(booking_id, "completed", principal=admin)
        with pytest.raises(PermissionDeniedError):
            core.bookings.update(
                booking_id, BookingChanges(internal_notes="mine now"), principal=world.me
            )
        assert [e.action for e in world.trail("booking", booking_id)] == [AuditAction.CREATED]
        assert core.bookings.get(booking_id, principal=admin).referral_source is None

    def test_a_refused_customer_change_leaves_no_entry(
        self, world: World, core: BookingCore, admin: Principal
    ) -> None:
        customer_id = world.customer.id
        with pytest.raises(ValidationError):
            core.customers.complete_profile(customer_id, email="not-an-email", principal=admin)
        with pytest.raises(StaleVersionError):
            core.customers.complete_profile(
                customer_id, email="asha@example.com", principal=admin, expected_version=42
            )
        assert [e.action for e in world.trail("customer", customer_id)] == [AuditAction.CREATED]

    def test_a_refused_traveler_change_leaves_no_entry(
        self, world: World, core: BookingCore, admin: Principal, store: MemoryStore
    ) -> None:
        traveler = core.travelers.add(world.customer.id, TravelerDetails("Ravi"), principal=admin)
        before = store.count("audit")
        with pytest.raises(ValidationError):
            core.travelers.update(traveler.id, TravelerDetails("R", age=-3), principal=admin)
        with pytest.raises(StaleVersionError):
            core.travelers.update(
                traveler.id, TravelerDetails("Ravi", age=3), principal=admin, expected_version=7
            )
        with pytest.raises(ValidationError):
            core.travelers.add(world.customer.id, TravelerDetails("X", age=500), principal=admin)
        assert store.count("audit") == before
        assert len(world.trail("traveler", traveler.id)) == 1

    def test_a_refused_partner_change_leaves_no_entry(
        self, world: World, core: BookingCore, admin: Principal, store: MemoryStore
    ) -> None:
        before = store.count("audit")
        with pytest.raises(ValidationError):
            core.partners.register(
                name="Bad",
                company_name="Bad Ltd",
                contact_email="bad@example.com",
                allowed_location_ids=[uuid4()],  # type: ignore[list-item]
                principal=admin,
            )
        assert store.count("audit") == before


class TestReadingTheTrail:
    @pytest.mark.parametrize("role", [StaffRole.ADMIN, StaffRole.STAFF])
    def test_staff_with_view_audit_read_any_trail(
        self, world: World, core: BookingCore, role: StaffRole
    ) -> None:
        reader = Principal.staff(StaffId(uuid4()), role)
        assert len(core.audit.trail("booking", world.booking.id, principal=reader)) == 1
        assert len(core.audit.trail("customer", world.customer.id, principal=reader)) == 1
        assert len(core.bookings.audit_trail(world.booking.id, principal=reader)) == 1

    def test_the_system_reads_any_trail(self, world: World, core: BookingCore) -> None:
        trail = core.audit.trail("customer", world.customer.id, principal=Principal.system())
        assert [e.action for e in trail] == [AuditAction.CREATED]

    @pytest.mark.parametrize("who", ["editor", "customer", "partner"])
    def test_others_may_not_read_the_trail(
        self, world: World, core: BookingCore, admin: Principal, who: str
    ) -> None:
        partner = core.partners.register(
            name="TrekMates",
            company_name="TrekMates Pvt Ltd",
            contact_email="ops@trekmates.example",
            allowed_location_ids=[world.camp.id],
            principal=admin,
        ).partner
        as_partner = Principal.partner(partner.id)
        partner_customer = core.customers.register("+919900011122", principal=as_partner).customer
        partner_booking = world.book(
            partner_customer.id, principal=as_partner, name="Kiran", internal_notes=None
        )
        principal, booking, customer = {
            "editor": (
                Principal.staff(StaffId(uuid4()), StaffRole.EDITOR),
                world.booking,
                world.customer,
            ),
            "customer": (world.me, world.booking, world.customer),
            "partner": (as_partner, partner_booking, partner_customer),
        }[who]
        # each can see the booking itself, just not its trail
        assert core.bookings.get(booking.id, principal=principal).id == booking.id
        with pytest.raises(PermissionDeniedError):
            core.audit.trail("booking", booking.id, principal=principal)
        with pytest.raises(PermissionDeniedError):
            core.bookings.audit_trail(booking.id, principal=principal)
        with pytest.raises(PermissionDeniedError):
            core.audit.trail("customer", customer.id, principal=principal)

    def test_an_advisor_reads_the_trail_of_their_bookings_only(
        self, world: World, core: BookingCore, admin: Principal
    ) -> None:
        advisor_id = core.staff.add("advisor@example.com", "Advisor", principal=admin).id
        advisor = Principal.staff(advisor_id, StaffRole.ADVISOR)
        mine = world.booking
        other = world.book(world.customer.id, name="Ravi")
        with pytest.raises(NotFoundError):
            core.audit.trail("booking", mine.id, principal=advisor)

        core.bookings.update(
            mine.id, BookingChanges(assignee_id=advisor_id), principal=admin, reason="handover"
        )
        trail = core.audit.trail("booking", mine.id, principal=advisor)
        assert [e.action for e in trail] == [AuditAction.CREATED, AuditAction.UPDATED]
        assert trail[1].new_values == {"assignee_id": str(advisor_id)}
        assert trail[1].old_values == {"assignee_id": None}
        assert list(core.bookings.audit_trail(mine.id, principal=advisor)) == list(trail)

        with pytest.raises(NotFoundError):
            core.audit.trail("booking", other.id, principal=advisor)
        with pytest.raises(NotFoundError):
            core.bookings.audit_trail(other.id, principal=advisor)
        with pytest.raises(PermissionDeniedError):
            core.audit.trail("customer", world.customer.id, principal=advisor)

    def test_a_supplier_user_may_not_read_the_trail(
        self, world: World, core: BookingCore, admin: Principal
    ) -> None:
        supplier = core.catalog.add_supplier("GUIDES", "Himalaya Guides", principal=admin)
        product = core.catalog.add_product(
            "HAMPTA", "Hampta Pass", "trek", supplier_id=supplier.id, principal=admin
        )
        slot = core.catalog.create_slot(
            location_id=world.camp.id,
            product_id=product.id,
            starts_at=world.clock.now() + timedelta(days=3),
            price_per_traveler=Money("10", "INR"),
            principal=admin,
        )
        booking = core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails("Ravi"), is_primary=True)],
                customer_id=world.customer.id,
            ),
            principal=admin,
        )
        as_supplier = Principal.staff(StaffId(uuid4()), StaffRole.SUPPLIER, supplier_id=supplier.id)
        assert core.bookings.get(booking.id, principal=as_supplier).id == booking.id
        with pytest.raises(PermissionDeniedError):
            core.audit.trail("booking", booking.id, principal=as_supplier)

    def test_an_unknown_booking_is_not_found(self, core: BookingCore, admin: Principal) -> None:
        with pytest.raises(NotFoundError):
            core.audit.trail("booking", uuid4(), principal=admin)

    def test_an_entity_with_no_changes_has_an_empty_trail(
        self, core: BookingCore, admin: Principal
    ) -> None:
        assert list(core.audit.trail("traveler", uuid4(), principal=admin)) == []

    @pytest.mark.parametrize("entity", ["seat", "Booking", "", "communication"])
    def test_an_unknown_entity_name_is_refused(
        self, core: BookingCore, admin: Principal, entity: str
    ) -> None:
        with pytest.raises(ValidationError) as error:
            core.audit.trail(entity, uuid4(), principal=admin)
        assert error.value.fields == ("entity",)
        assert error.value.errors[0].code == "invalid_choice"


@attrs.frozen
class _Point:
    x: int
    label: str


class TestAuditValues:
    def test_money_is_its_amount_and_currency(self) -> None:
        assert audit_value(Money("1000", "INR")) == "1000.00 INR"
        assert audit_value(Money("12.5", "USD")) == "12.50 USD"
        assert audit_value(Money("500", "JPY")) == "500 JPY"

    def test_times_are_iso_8601(self) -> None:
        moment = datetime(2026, 1, 2, 9, 30, tzinfo=UTC)
        assert audit_value(moment) == "2026-01-02T09:30:00+00:00"
        assert audit_value(date(2026, 1, 2)) == "2026-01-02"

    def test_ids_decimals_and_enums_are_strings(self) -> None:
        some_id = UUID("12345678-1234-5678-1234-567812345678")
        assert audit_value(some_id) == "12345678-1234-5678-1234-567812345678"
        assert audit_value(Decimal("15.50")) == "15.50"
        assert audit_value(BookingSource.WALK_IN) == "walk_in"
        assert audit_value(CommunicationStatus.SENT) == "sent"
        assert audit_value(AuditAction.DEACTIVATED) == "deactivated"

    def test_plain_json_values_pass_through(self) -> None:
        for value in (None, True, False, 0, 42, "text"):
            assert audit_value(value) == value
            assert type(audit_value(value)) is type(value)

    def test_people_and_contacts(self) -> None:
        assert audit_value(PhoneNumber.parse("098765 43210", region="IN")) == "+919876543210"
        assert audit_value(EmailAddress.parse("asha@example.com")) == "asha@example.com"
        assert audit_value(Actor("staff", "42")) == "staff:42"
        assert audit_value(Actor.system()) == "system"

    def test_sets_are_sorted_lists_and_sequences_keep_their_order(self) -> None:
        assert audit_value(frozenset({"b", "c", "a"})) == ["a", "b", "c"]
        ids = [UUID(int=3), UUID(int=1), UUID(int=2)]
        assert audit_value(frozenset(ids)) == sorted(str(i) for i in ids)
        assert audit_value({Decimal(2), Decimal(1)}) == ["1", "2"]
        assert audit_value(("z", "a")) == ["z", "a"]
        assert audit_value([Money("1", "INR"), None]) == ["1.00 INR", None]

    def test_mappings_and_attrs_objects_become_dicts(self) -> None:
        assert audit_value({1: UUID(int=1), "nested": {"d": date(2026, 1, 1)}}) == {
            "1": "00000000-0000-0000-0000-000000000001",
            "nested": {"d": "2026-01-01"},
        }
        assert audit_value(_Point(3, "p")) == {"x": 3, "label": "p"}
        assert audit_value(RequestOrigin("10.0.0.1")) == {
            "ip_address": "10.0.0.1",
            "user_agent": None,
        }

    def test_everything_converted_is_json_serialisable(self) -> None:
        values = {
            "money": Money("1000", "INR"),
            "at": datetime(2026, 1, 1, tzinfo=UTC),
            "ids": frozenset({UUID(int=5), UUID(int=4)}),
            "status": CommunicationStatus.OPENED,
        }
        text = json.dumps(audit_value(values))
        assert json.loads(text) == {
            "money": "1000.00 INR",
            "at": "2026-01-01T00:00:00+00:00",
            "ids": [str(UUID(int=4)), str(UUID(int=5))],
            "status": "opened",
        }

    def test_snapshot_reads_the_named_fields(self) -> None:
        point = _Point(7, "seven")
        assert snapshot(point, ["label"]) == {"label": "seven"}
        assert snapshot(point, ("x", "label")) == {"x": 7, "label": "seven"}


class TestDiff:
    def test_only_changed_keys_are_returned(self) -> None:
        old, new = diff({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 5, "d": 4})
        assert old == {"b": 2, "c": 3, "d": None}
        assert new == {"b": 5, "c": None, "d": 4}
        assert list(old) == ["b", "c", "d"]

    def test_equal_snapshots_have_no_diff(self) -> None:
        assert diff({"a": [1, 2], "b": None}, {"a": [1, 2], "b": None}) == ({}, {})
        assert diff({}, {}) == ({}, {})


class TestAuditEntry:
    def test_values_are_converted_and_changed_fields_listed(self) -> None:
        entry = AuditEntry(
            id=uuid4(),
            entity="booking",
            entity_id=uuid4(),
            action="updated",
            actor=Actor.system(),
            occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
            old_values={"total": Money("10", "INR"), "status": None},
            new_values={"total": Money("20", "INR"), "assignee_id": UUID(int=9)},
        )
        assert entry.action is AuditAction.UPDATED
        assert entry.old_values == {"total": "10.00 INR", "status": None}
        assert entry.new_values == {"total": "20.00 INR", "assignee_id": str(UUID(int=9))}
        assert entry.changed_fields == ("assignee_id", "status", "total")
        assert entry.origin == RequestOrigin(None, None)

    def test_an_unknown_action_is_refused(self) -> None:
        with pytest.raises(ValueError, match="renamed"):
            AuditEntry(
                id=uuid4(),
                entity="booking",
                entity_id=uuid4(),
                action="renamed",
                actor=Actor.system(),
                occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
