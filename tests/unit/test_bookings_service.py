"""BookingService over the memory adapter: booking, pricing, refusals, listing, cancelling."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from bookingcore import (
    BookingChanges,
    BookingCore,
    BookingFilter,
    BookingRequest,
    CapacityError,
    CustomerDetails,
    DiscountTier,
    DuplicateError,
    IdempotencyConflictError,
    InvalidTransitionError,
    Money,
    NewTraveler,
    NotFoundError,
    PageRequest,
    PartnerId,
    PermissionDeniedError,
    Principal,
    SavedTraveler,
    SlotId,
    StaffId,
    StaffRole,
    StaleVersionError,
    TravelerDetails,
    TravelerId,
    ValidationError,
)
from bookingcore.domain import BookingSource, Partner, Slot
from bookingcore.services import UNSET
from bookingcore.testing import FixedClock
from bookingcore_adapters.memory import MemoryStore

TABLES = ("customers", "travelers", "slots", "bookings")


def counts(store: MemoryStore) -> dict[str, int]:
    return {table: store.count(table) for table in TABLES}


def new(name: str, *, primary: bool = False, **details: object) -> NewTraveler:
    return NewTraveler(TravelerDetails(name, **details), is_primary=primary)  # type: ignore[arg-type]


class World:
    """Two locations, a trek slot with tiers, a customer with two saved travelers, a partner."""

    def __init__(self, core: BookingCore, admin: Principal, clock: FixedClock) -> None:
        self.core, self.admin = core, admin
        self.camp = core.catalog.add_location("CAMP", "Base camp", principal=admin)
        self.reef = core.catalog.add_location("REEF", "Dive centre", principal=admin)
        self.trek = self.slot(self.camp.id, capacity=8, clock=clock, name="Hampta batch 1")
        self.dive = self.slot(self.reef.id, capacity=4, clock=clock)
        self.customer = core.customers.register("+919876543210", principal=admin).customer
        self.me = Principal.customer(self.customer.id)
        self.asha = core.travelers.add(self.customer.id, TravelerDetails("Asha"), principal=self.me)
        self.ravi = core.travelers.add(
            self.customer.id,
            TravelerDetails("Ravi", special_requirements="Nut allergy"),
            principal=self.me,
        )
        self.partner: Partner = core.partners.register(
            name="TrekMates",
            company_name="TrekMates Pvt Ltd",
            contact_email="ops@trekmates.example",
            allowed_location_ids=[self.camp.id],
            principal=admin,
        ).partner
        self.as_partner = Principal.partner(self.partner.id)

    def slot(self, location_id, *, capacity, clock: FixedClock, name=None) -> Slot:  # type: ignore[no-untyped-def]
        return self.core.catalog.create_slot(
            location_id=location_id,
            starts_at=clock.now() + timedelta(days=10),
            price_per_traveler=Money("2500", "INR"),
            capacity=capacity,
            name=name,
            group_discounts=[DiscountTier(4, Decimal(10)), DiscountTier(6, Decimal("12.5"))],
            principal=self.admin,
        )

    def seats_left(self, slot: Slot) -> int | None:
        return self.core.catalog.get_slot(slot.id, principal=self.admin).seats_left


@pytest.fixture
def world(core: BookingCore, admin: Principal, clock: FixedClock) -> World:
    return World(core, admin, clock)


class TestBooking:
    def test_a_customer_books_saved_and_new_travelers_with_one_primary_contact(
        self, world: World, core: BookingCore
    ) -> None:
        booking = core.bookings.book(
            BookingRequest(
                slot_id=world.trek.id,
                travelers=[
                    SavedTraveler(world.asha.id, is_primary=True),
                    SavedTraveler(world.ravi.id, special_requirements="Vegetarian meals"),
                    new("Mira", age=9),
                ],
                referral_source="instagram",
            ),
            principal=world.me,
        )
        assert booking.total_travelers == 3
        assert booking.primary_traveler.traveler_id == world.asha.id
        assert booking.customer_id == world.customer.id
        assert booking.status == "pending"
        assert booking.source is BookingSource.DIRECT
        assert booking.created_by == world.me.actor
        assert booking.referral_source == "instagram"
        needs = {t.traveler_id: t.special_requirements for t in booking.travelers}
        assert needs[world.ravi.id] == "Vegetarian meals"
        assert needs[world.asha.id] is None
        assert world.seats_left(world.trek) == 5
        saved = core.travelers.list(world.customer.id, principal=world.me)
        assert [t.name for t in saved] == ["Asha", "Ravi", "Mira"]

    def test_a_saved_travelers_standing_requirements_apply_when_the_booking_gives_none(
        self, world: World, core: BookingCore
    ) -> None:
        booking = core.bookings.book(
            BookingRequest(world.trek.id, [SavedTraveler(world.ravi.id, is_primary=True)]),
            principal=world.me,
        )
        assert booking.travelers[0].special_requirements == "Nut allergy"

    def test_group_discount_tier_is_applied_to_the_exact_total(
        self, world: World, core: BookingCore
    ) -> None:
        booking = core.bookings.book(
            BookingRequest(
                world.trek.id,
                [new(f"Guest {i}", primary=i == 0) for i in range(6)],
            ),
            principal=world.me,
        )
        assert booking.subtotal == Money("15000", "INR")
        assert booking.discount == Money("1875", "INR")
        assert booking.total == Money("13125", "INR")
        assert booking.total_travelers == 6

    def test_staff_may_set_a_per_traveler_price_in_the_slot_currency(
        self, world: World, core: BookingCore
    ) -> None:
        booking = core.bookings.book(
            BookingRequest(
                world.trek.id,
                [
                    SavedTraveler(world.asha.id, is_primary=True),
                    SavedTraveler(world.ravi.id, price=Money("1250.50", "INR")),
                ],
                customer_id=world.customer.id,
                source="walk-in",
                internal_notes="paid cash deposit",
            ),
            principal=world.admin,
        )
        assert [t.price for t in booking.travelers] == [
            Money("2500", "INR"),
            Money("1250.50", "INR"),
        ]
        assert booking.total == Money("3750.50", "INR")
        assert booking.source is BookingSource.WALK_IN
        assert booking.internal_notes == "paid cash deposit"

    def test_a_customer_may_not_set_prices(self, world: World, core: BookingCore) -> None:
        cheap = SavedTraveler(world.asha.id, is_primary=True, price=Money("1", "INR"))
        with pytest.raises(PermissionDeniedError, match="may not set prices"):
            core.bookings.book(BookingRequest(world.trek.id, [cheap]), principal=world.me)

    def test_a_typed_in_traveler_matching_a_saved_one_is_reused_not_saved_twice(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        before = store.count("travelers")
        booking = core.bookings.book(
            BookingRequest(world.trek.id, [new("asha", primary=True)]), principal=world.me
        )
        assert booking.travelers[0].traveler_id == world.asha.id
        assert store.count("travelers") == before

    def test_staff_book_for_a_new_customer_found_or_created_by_phone(
        self, world: World, core: BookingCore
    ) -> None:
        first = core.bookings.book(
            BookingRequest(
                world.trek.id,
                [new("Neha", primary=True)],
                customer=CustomerDetails("099999 12345", name="Neha Shah"),
                source="phone",
            ),
            principal=world.admin,
        )
        again = core.bookings.book(
            BookingRequest(
                world.dive.id,
                [new("Neha", primary=True)],
                customer=CustomerDetails("+91 99999-12345"),
            ),
            principal=world.admin,
        )
        assert first.customer_id == again.customer_id
        customer = core.customers.get(first.customer_id, principal=world.admin)
        assert (customer.phone.e164, customer.name) == ("+919999912345", "Neha Shah")
        assert first.source is BookingSource.PHONE

    def test_a_booking_records_the_product_and_its_supplier(
        self, world: World, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        supplier = core.catalog.add_supplier("GUIDES", "Himalaya Guides", principal=admin)
        product = core.catalog.add_product(
            "HAMPTA", "Hampta Pass", "trek", supplier_id=supplier.id, principal=admin
        )
        slot = core.catalog.create_slot(
            location_id=world.camp.id,
            product_id=product.id,
            starts_at=clock.now() + timedelta(days=3),
            price_per_traveler=Money("10", "INR"),
            principal=admin,
        )
        booking = core.bookings.book(
            BookingRequest(slot.id, [SavedTraveler(world.asha.id, is_primary=True)]),
            principal=world.me,
        )
        assert (booking.product_id, booking.supplier_id) == (product.id, supplier.id)
        as_supplier = Principal.staff(StaffId(uuid4()), StaffRole.SUPPLIER, supplier_id=supplier.id)
        assert [b.id for b in core.bookings.list(principal=as_supplier)] == [booking.id]


class TestCapacity:
    def test_overbooking_is_refused_with_the_seats_left_and_nothing_is_written(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        core.bookings.book(
            BookingRequest(world.dive.id, [new(f"A{i}", primary=i == 0) for i in range(3)]),
            principal=world.me,
        )
        before = counts(store)
        with pytest.raises(CapacityError) as refused:
            core.bookings.book(
                BookingRequest(
                    world.dive.id,
                    [new("Zed", primary=True), new("Yas")],
                    customer=CustomerDetails("+919111111111"),
                ),
                principal=world.admin,
            )
        assert (refused.value.seats_left, refused.value.requested) == (1, 2)
        assert counts(store) == before
        assert world.seats_left(world.dive) == 1

    def test_the_message_names_the_slot_when_it_has_a_name(
        self, world: World, core: BookingCore
    ) -> None:
        many = [new(f"P{i}", primary=i == 0) for i in range(9)]
        with pytest.raises(CapacityError, match="'Hampta batch 1' has 8 seats left; 9 requested"):
            core.bookings.book(BookingRequest(world.trek.id, many), principal=world.me)

    def test_an_unlimited_slot_never_runs_out(
        self, world: World, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        open_day = core.catalog.create_slot(
            location_id=world.camp.id,
            starts_at=clock.now() + timedelta(days=1),
            price_per_traveler=Money("0", "INR"),
            principal=admin,
        )
        booking = core.bookings.book(
            BookingRequest(open_day.id, [new(f"G{i}", primary=i == 0) for i in range(50)]),
            principal=world.me,
        )
        assert booking.total == Money("0", "INR")
        assert core.catalog.get_slot(open_day.id, principal=admin).seats_held == 50

    def test_cancelling_releases_the_seats(self, world: World, core: BookingCore) -> None:
        booking = core.bookings.book(
            BookingRequest(
                world.dive.id, [new("Ana", primary=True), new("Bea"), new("Cai"), new("Dev")]
            ),
            principal=world.me,
        )
        assert world.seats_left(world.dive) == 0
        cancelled = core.bookings.cancel(booking.id, principal=world.me, reason="change of plans")
        assert cancelled.status == "cancelled"
        assert cancelled.cancellation_reason == "change of plans"
        assert world.seats_left(world.dive) == 4
        with pytest.raises(InvalidTransitionError, match="'cancelled' to 'cancelled'"):
            core.bookings.cancel(booking.id, principal=world.me)
        assert world.seats_left(world.dive) == 4


class TestDuplicatesAndIdempotency:
    def test_the_same_travelers_on_the_same_slot_twice_is_a_duplicate(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        request = BookingRequest(
            world.trek.id,
            [SavedTraveler(world.asha.id, is_primary=True), SavedTraveler(world.ravi.id)],
        )
        first = core.bookings.book(request, principal=world.me)
        before = counts(store)
        reordered = BookingRequest(
            world.trek.id,
            [SavedTraveler(world.ravi.id, is_primary=True), SavedTraveler(world.asha.id)],
        )
        with pytest.raises(DuplicateError) as duplicate:
            core.bookings.book(reordered, principal=world.me)
        assert duplicate.value.existing_id == first.id
        assert counts(store) == before

    def test_after_a_cancellation_the_same_travelers_may_book_again(
        self, world: World, core: BookingCore
    ) -> None:
        request = BookingRequest(world.trek.id, [SavedTraveler(world.asha.id, is_primary=True)])
        first = core.bookings.book(request, principal=world.me)
        core.bookings.cancel(first.id, principal=world.me)
        second = core.bookings.book(request, principal=world.me)
        assert second.id != first.id

    def test_a_retry_with_the_same_key_returns_the_first_booking_and_writes_nothing(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        request = BookingRequest(world.trek.id, [new("Kiran", primary=True)])
        first = core.bookings.book(request, principal=world.me, idempotency_key="app-42")
        before = counts(store)
        retry = core.bookings.book(request, principal=world.me, idempotency_key="app-42")
        assert retry.id == first.id
        assert counts(store) == before
        assert world.seats_left(world.trek) == 7

    def test_the_same_key_for_a_different_request_is_a_conflict(
        self, world: World, core: BookingCore
    ) -> None:
        core.bookings.book(
            BookingRequest(world.trek.id, [new("Kiran", primary=True)]),
            principal=world.me,
            idempotency_key="app-43",
        )
        with pytest.raises(IdempotencyConflictError):
            core.bookings.book(
                BookingRequest(world.dive.id, [new("Kiran", primary=True)]),
                principal=world.me,
                idempotency_key="app-43",
            )

    def test_an_external_id_is_unique(self, world: World, core: BookingCore) -> None:
        core.bookings.book(
            BookingRequest(world.trek.id, [new("Ana", primary=True)], external_id="OTA-1"),
            principal=world.me,
        )
        with pytest.raises(DuplicateError, match="OTA-1"):
            core.bookings.book(
                BookingRequest(world.dive.id, [new("Bea", primary=True)], external_id="OTA-1"),
                principal=world.me,
            )


class TestBadInput:
    """Each bad input gives a typed error naming the field, and nothing is stored."""

    def refused(
        self, core: BookingCore, store: MemoryStore, request: BookingRequest, principal: Principal
    ) -> ValidationError:
        before = counts(store)
        with pytest.raises(ValidationError) as error:
            core.bookings.book(request, principal=principal)
        assert counts(store) == before
        return error.value

    def test_zero_travelers(self, world: World, core: BookingCore, store: MemoryStore) -> None:
        error = self.refused(core, store, BookingRequest(world.trek.id, []), world.me)
        assert error.fields == ("travelers",)
        assert error.errors[0].code == "required"

    def test_two_primary_contacts(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        request = BookingRequest(world.trek.id, [new("Ana", primary=True), new("Bo", primary=True)])
        error = self.refused(core, store, request, world.me)
        assert "travelers" in error.fields
        assert {e.code for e in error.errors} >= {"primary_contact"}

    def test_no_primary_contact(self, world: World, core: BookingCore, store: MemoryStore) -> None:
        error = self.refused(core, store, BookingRequest(world.trek.id, [new("Ann")]), world.me)
        assert error.errors[0].code == "primary_contact"

    def test_every_bad_traveler_field_is_named_at_once(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        request = BookingRequest(
            world.trek.id,
            [
                new("Okay Name", primary=True),
                NewTraveler(TravelerDetails("X", phone="12", emergency_contact_phone="abc")),
                NewTraveler(TravelerDetails("Old", age=300)),
            ],
        )
        error = self.refused(core, store, request, world.me)
        assert set(error.fields) == {
            "travelers[1].details.name",
            "travelers[1].details.phone",
            "travelers[1].details.emergency_contact_phone",
            "travelers[2].details.age",
        }

    def test_an_unknown_traveler_id(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        request = BookingRequest(
            world.trek.id, [SavedTraveler(TravelerId(uuid4()), is_primary=True)]
        )
        error = self.refused(core, store, request, world.me)
        assert error.fields == ("travelers[0].traveler_id",)
        assert error.errors[0].code == "unknown_traveler"

    def test_another_customers_traveler(
        self, world: World, core: BookingCore, store: MemoryStore, admin: Principal
    ) -> None:
        other = core.customers.register("+919000000001", principal=admin).customer
        theirs = core.travelers.add(other.id, TravelerDetails("Stranger"), principal=admin)
        request = BookingRequest(
            world.trek.id,
            [SavedTraveler(world.asha.id, is_primary=True), SavedTraveler(theirs.id)],
        )
        error = self.refused(core, store, request, world.me)
        assert error.fields == ("travelers[1].traveler_id",)

    def test_a_deleted_traveler(self, world: World, core: BookingCore, store: MemoryStore) -> None:
        core.travelers.delete(world.ravi.id, principal=world.me)
        request = BookingRequest(world.trek.id, [SavedTraveler(world.ravi.id, is_primary=True)])
        error = self.refused(core, store, request, world.me)
        assert error.fields == ("travelers[0].traveler_id",)

    def test_the_same_traveler_twice(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        request = BookingRequest(
            world.trek.id,
            [SavedTraveler(world.asha.id, is_primary=True), SavedTraveler(world.asha.id)],
        )
        error = self.refused(core, store, request, world.me)
        assert error.fields == ("travelers[1].traveler_id",)
        assert error.errors[0].code == "duplicate"

    def test_a_price_in_another_currency(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        request = BookingRequest(
            world.trek.id,
            [SavedTraveler(world.asha.id, is_primary=True, price=Money("30", "EUR"))],
            customer_id=world.customer.id,
        )
        error = self.refused(core, store, request, world.admin)
        assert error.fields == ("travelers[0].price",)
        assert error.errors[0].code == "currency_mismatch"

    def test_an_invalid_customer_phone_and_email(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        request = BookingRequest(
            world.trek.id,
            [new("Ann", primary=True)],
            customer=CustomerDetails("12345", email="not-an-email"),
        )
        error = self.refused(core, store, request, world.admin)
        assert set(error.fields) == {"customer.phone", "customer.email"}

    def test_an_unknown_or_past_slot(
        self, world: World, core: BookingCore, store: MemoryStore, clock: FixedClock
    ) -> None:
        unknown = BookingRequest(SlotId(uuid4()), [new("Ann", primary=True)])
        assert self.refused(core, store, unknown, world.me).fields == ("slot_id",)
        clock.advance(days=11)
        past = BookingRequest(world.trek.id, [new("Ann", primary=True)])
        error = self.refused(core, store, past, world.me)
        assert (error.fields, error.errors[0].code) == (("slot_id",), "past")

    def test_an_unknown_lifecycle_and_source(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        request = BookingRequest(
            world.trek.id, [new("Ann", primary=True)], lifecycle="nope", source="carrier-pigeon"
        )
        error = self.refused(core, store, request, world.admin)
        assert set(error.fields) == {"lifecycle", "source"}

    def test_only_partners_have_source_partner(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        request = BookingRequest(world.trek.id, [new("Ann", primary=True)], source="partner")
        assert self.refused(core, store, request, world.admin).fields == ("source",)


class TestPartners:
    def test_a_partner_booking_carries_source_and_partner_id(
        self, world: World, core: BookingCore
    ) -> None:
        booking = core.bookings.book(
            BookingRequest(
                world.trek.id,
                [new("Pat", primary=True)],
                customer=CustomerDetails("+919222222222", name="Pat Lee"),
                source="direct",
            ),
            principal=world.as_partner,
        )
        assert (booking.source, booking.partner_id) == (BookingSource.PARTNER, world.partner.id)
        assert booking.created_by_partner_id == world.partner.id
        customer = core.customers.get(booking.customer_id, principal=world.as_partner)
        assert (customer.source, customer.partner_id) == (BookingSource.PARTNER, world.partner.id)

    def test_a_booking_a_partner_brought_is_its_own_though_staff_made_it(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        request = BookingRequest(
            world.trek.id, [new("Ann", primary=True)], customer_id=world.customer.id
        )
        with core.context.transaction() as tx:
            booking = core.bookings.book_in(
                tx, request, principal=world.admin, referred_by=world.partner.id
            )
            tx.commit()
        assert booking.partner_id == world.partner.id
        assert booking.created_by_partner_id is None
        assert booking.source is BookingSource.DIRECT
        assert core.bookings.get(booking.id, principal=world.as_partner).id == booking.id

    def test_an_unregistered_referrer_leaves_the_booking_without_partner(
        self, world: World, core: BookingCore
    ) -> None:
        request = BookingRequest(
            world.trek.id, [new("Ann", primary=True)], customer_id=world.customer.id
        )
        with core.context.transaction() as tx:
            booking = core.bookings.book_in(
                tx, request, principal=world.admin, referred_by=PartnerId(uuid4())
            )
            tx.commit()
        assert booking.partner_id is None

    def test_a_partner_may_not_book_another_partners_referral(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        before = counts(store)
        request = BookingRequest(
            world.trek.id,
            [new("Pat", primary=True)],
            customer=CustomerDetails("+919222222222", name="Pat Lee"),
        )
        with core.context.transaction() as tx, pytest.raises(PermissionDeniedError):
            core.bookings.book_in(
                tx, request, principal=world.as_partner, referred_by=PartnerId(uuid4())
            )
        assert counts(store) == before

    def test_a_partner_is_refused_at_a_location_it_may_not_book_and_nothing_is_written(
        self, world: World, core: BookingCore, store: MemoryStore
    ) -> None:
        before = counts(store)
        with pytest.raises(PermissionDeniedError, match="may not book at location REEF"):
            core.bookings.book(
                BookingRequest(
                    world.dive.id,
                    [new("Pat", primary=True)],
                    customer=CustomerDetails("+919222222222"),
                ),
                principal=world.as_partner,
            )
        assert counts(store) == before

    def test_a_partner_booking_for_a_known_phone_links_without_exposing_or_changing_the_profile(
        self, world: World, core: BookingCore
    ) -> None:
        booking = core.bookings.book(
            BookingRequest(
                world.trek.id,
                [new("Asha", primary=True)],
                customer=CustomerDetails("+91 98765 43210", name="Someone Else"),
            ),
            principal=world.as_partner,
        )
        assert booking.customer_id == world.customer.id
        with pytest.raises(NotFoundError):
            core.customers.get(world.customer.id, principal=world.as_partner)
        assert core.customers.get(world.customer.id, principal=world.admin).name is None
        assert core.bookings.get(booking.id, principal=world.as_partner).id == booking.id

    def test_a_partner_sees_and_cancels_only_its_own_bookings(
        self, world: World, core: BookingCore
    ) -> None:
        mine = core.bookings.book(
            BookingRequest(
                world.trek.id, [new("Pat", primary=True)], customer=CustomerDetails("+919222222222")
            ),
            principal=world.as_partner,
        )
        direct = core.bookings.book(
            BookingRequest(world.trek.id, [SavedTraveler(world.asha.id, is_primary=True)]),
            principal=world.me,
        )
        assert [b.id for b in core.bookings.list(principal=world.as_partner)] == [mine.id]
        with pytest.raises(NotFoundError):
            core.bookings.get(direct.id, principal=world.as_partner)
        with pytest.raises(NotFoundError):
            core.bookings.cancel(direct.id, principal=world.as_partner)
        with pytest.raises(PermissionDeniedError):
            core.bookings.list(BookingFilter(partner_id=uuid4()), principal=world.as_partner)  # type: ignore[arg-type]
        assert core.bookings.cancel(mine.id, principal=world.as_partner).status == "cancelled"


class TestReadingAndListing:
    def test_customers_see_only_their_own_bookings(
        self, world: World, core: BookingCore, admin: Principal
    ) -> None:
        mine = core.bookings.book(
            BookingRequest(world.trek.id, [SavedTraveler(world.asha.id, is_primary=True)]),
            principal=world.me,
        )
        theirs = core.bookings.book(
            BookingRequest(
                world.trek.id,
                [new("Other", primary=True)],
                customer=CustomerDetails("+919333333333"),
            ),
            principal=admin,
        )
        assert [b.id for b in core.bookings.list(principal=world.me)] == [mine.id]
        with pytest.raises(NotFoundError):
            core.bookings.get(theirs.id, principal=world.me)
        assert core.bookings.get_by_reference(mine.reference.lower(), principal=world.me) == mine
        assert {b.id for b in core.bookings.list(principal=admin)} == {mine.id, theirs.id}

    def test_staff_filter_by_status_source_location_and_dates_and_page_through(
        self, world: World, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        made = []
        for index in range(5):
            clock.advance(minutes=1)
            made.append(
                core.bookings.book(
                    BookingRequest(
                        world.trek.id if index % 2 else world.dive.id,
                        [new(f"Guest {index}", primary=True)],
                        customer=CustomerDetails(f"+91940000000{index}"),
                        source="walk_in" if index == 4 else None,
                    ),
                    principal=admin,
                )
            )
        core.bookings.cancel(made[0].id, principal=admin)
        at_camp = core.bookings.list(BookingFilter(location_id=world.camp.id), principal=admin)
        assert {b.id for b in at_camp} == {made[1].id, made[3].id}
        walk_ins = core.bookings.list(
            BookingFilter(sources=[BookingSource.WALK_IN]), principal=admin
        )
        assert [b.id for b in walk_ins] == [made[4].id]
        cancelled = core.bookings.list(BookingFilter(statuses=["cancelled"]), principal=admin)
        assert [b.id for b in cancelled] == [made[0].id]
        first_page = core.bookings.list(page=PageRequest(limit=2), principal=admin)
        assert [b.id for b in first_page] == [made[4].id, made[3].id]
        rest = core.bookings.list(
            page=PageRequest(limit=10, cursor=first_page.next_cursor), principal=admin
        )
        assert [b.id for b in rest] == [made[2].id, made[1].id, made[0].id]
        assert rest.next_cursor is None


class TestCancelRules:
    def test_a_customer_may_not_cancel_once_the_slot_has_started_but_staff_may(
        self, world: World, core: BookingCore, clock: FixedClock
    ) -> None:
        booking = core.bookings.book(
            BookingRequest(world.trek.id, [SavedTraveler(world.asha.id, is_primary=True)]),
            principal=world.me,
        )
        clock.advance(days=10, minutes=1)
        with pytest.raises(PermissionDeniedError, match="can no longer be cancelled"):
            core.bookings.cancel(booking.id, principal=world.me)
        assert core.bookings.cancel(booking.id, principal=world.admin).status == "cancelled"

    def test_a_stale_version_is_refused(self, world: World, core: BookingCore) -> None:
        booking = core.bookings.book(
            BookingRequest(world.trek.id, [SavedTraveler(world.asha.id, is_primary=True)]),
            principal=world.me,
        )
        core.bookings.update(
            booking.id, BookingChanges(internal_notes="VIP"), principal=world.admin
        )
        with pytest.raises(StaleVersionError):
            core.bookings.cancel(booking.id, principal=world.me, expected_version=booking.version)


class TestUpdate:
    def test_staff_edit_notes_and_assignee_and_fields_left_unset_stay(
        self, world: World, core: BookingCore
    ) -> None:
        booking = core.bookings.book(
            BookingRequest(
                world.trek.id,
                [SavedTraveler(world.asha.id, is_primary=True)],
                referral_source="google",
            ),
            principal=world.me,
        )
        advisor = core.staff.add("advisor@example.com", "Advisor", principal=world.admin).id
        changed = core.bookings.update(
            booking.id,
            BookingChanges(internal_notes="call before 10am", assignee_id=advisor),
            principal=world.admin,
            expected_version=booking.version,
        )
        assert (changed.internal_notes, changed.assignee_id) == ("call before 10am", advisor)
        assert changed.referral_source == "google"
        assert changed.version == booking.version + 1
        as_advisor = Principal.staff(advisor, StaffRole.ADVISOR)
        assert [b.id for b in core.bookings.list(principal=as_advisor)] == [booking.id]
        noted = core.bookings.update(
            booking.id, BookingChanges(internal_notes="confirmed by phone"), principal=as_advisor
        )
        assert noted.internal_notes == "confirmed by phone"

    def test_customers_may_not_edit_internal_notes_or_reassign(
        self, world: World, core: BookingCore
    ) -> None:
        booking = core.bookings.book(
            BookingRequest(world.trek.id, [SavedTraveler(world.asha.id, is_primary=True)]),
            principal=world.me,
        )
        with pytest.raises(PermissionDeniedError, match="internal_notes"):
            core.bookings.update(
                booking.id, BookingChanges(internal_notes="hi"), principal=world.me
            )
        changed = core.bookings.update(
            booking.id, BookingChanges(referral_source=None), principal=world.me
        )
        assert changed.referral_source is None
        assert BookingChanges().fields() == frozenset()
        assert BookingChanges(referral_source=UNSET).fields() == frozenset()
