"""The catalogue service: locations, suppliers, products and slots, and who may see them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    CustomerDetails,
    CustomerId,
    DiscountTier,
    DuplicateError,
    LocationId,
    Money,
    NewTraveler,
    NotFoundError,
    PartnerId,
    PermissionDeniedError,
    Principal,
    ProductId,
    SlotId,
    StaffId,
    StaffRole,
    SupplierId,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Location, ProductKind, Slot
from bookingcore.testing import FixedClock
from bookingcore_adapters.memory import MemoryStore

PRICE = Money("1500", "INR")


def _slot(
    core: BookingCore,
    principal: Principal,
    location: Location,
    clock: FixedClock,
    **fields: object,
) -> Slot:
    values: dict[str, object] = {
        "location_id": location.id,
        "starts_at": clock.now() + timedelta(days=7),
        "price_per_traveler": PRICE,
        "capacity": 10,
    }
    return core.catalog.create_slot(principal=principal, **(values | fields))  # type: ignore[arg-type]


def _book(core: BookingCore, admin: Principal, slot: Slot, *names: str) -> None:
    travelers = [
        NewTraveler(TravelerDetails(name), is_primary=index == 0)
        for index, name in enumerate(names)
    ]
    core.bookings.book(
        BookingRequest(slot.id, travelers, customer=CustomerDetails(phone="098765 43210")),
        principal=admin,
    )


class TestLocations:
    def test_the_code_is_stored_upper_case(
        self, core: BookingCore, admin: Principal, store: MemoryStore
    ) -> None:
        location = core.catalog.add_location(" goa-north ", "Goa North", principal=admin)
        assert location.code == "GOA-NORTH"
        assert location.is_active
        assert core.catalog.location("goa-north", principal=admin).id == location.id
        assert store.count("locations") == 1

    def test_a_duplicate_code_is_refused_case_insensitively(
        self, core: BookingCore, admin: Principal, store: MemoryStore
    ) -> None:
        first = core.catalog.add_location("GOA", "Goa", principal=admin)
        with pytest.raises(DuplicateError) as caught:
            core.catalog.add_location("goa", "Goa again", principal=admin)
        assert caught.value.existing_id == first.id
        assert store.count("locations") == 1

    @pytest.mark.parametrize(
        "principal",
        [
            Principal.customer(CustomerId(uuid4())),
            Principal.partner(PartnerId(uuid4())),
            Principal.staff(StaffId(uuid4()), StaffRole.ADVISOR),
        ],
        ids=["customer", "partner", "advisor"],
    )
    def test_a_principal_without_manage_catalog_may_not_add(
        self, core: BookingCore, store: MemoryStore, principal: Principal
    ) -> None:
        with pytest.raises(PermissionDeniedError):
            core.catalog.add_location("GOA", "Goa", principal=principal)
        assert store.count("locations") == 0

    def test_an_editor_may_add(self, core: BookingCore) -> None:
        editor = Principal.staff(StaffId(uuid4()), StaffRole.EDITOR)
        assert core.catalog.add_location("GOA", "Goa", principal=editor).code == "GOA"

    @pytest.mark.parametrize(
        ("code", "error_code"), [("has space", "invalid_code"), ("", "required")]
    )
    def test_a_bad_code_is_refused_on_the_code_field(
        self, core: BookingCore, admin: Principal, store: MemoryStore, code: str, error_code: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            core.catalog.add_location(code, "Goa", principal=admin)
        assert caught.value.fields == ("code",)
        assert caught.value.errors[0].code == error_code
        assert store.count("locations") == 0

    def test_bad_code_and_missing_name_are_reported_together(
        self, core: BookingCore, admin: Principal
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            core.catalog.add_location("no/slash", "", principal=admin)
        assert set(caught.value.fields) == {"code", "name"}

    def test_an_unknown_location_is_not_found(self, core: BookingCore, admin: Principal) -> None:
        with pytest.raises(NotFoundError):
            core.catalog.location("NOWHERE", principal=admin)


class TestSuppliersAndProducts:
    def test_a_supplier_keeps_normalised_contact_details(
        self, core: BookingCore, admin: Principal
    ) -> None:
        supplier = core.catalog.add_supplier(
            "blue-boats",
            "Blue Boats",
            principal=admin,
            email="Ops@Blue.EXAMPLE",
            phone="098765 43210",
        )
        assert supplier.code == "BLUE-BOATS"
        assert str(supplier.email) == "Ops@blue.example"
        assert str(supplier.phone) == "+919876543210"

    def test_a_supplier_with_a_bad_phone_is_refused_and_not_stored(
        self, core: BookingCore, admin: Principal, store: MemoryStore
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            core.catalog.add_supplier("S1", "Boats", principal=admin, phone="12")
        assert caught.value.fields == ("phone",)
        assert store.count("suppliers") == 0

    def test_a_product_links_to_its_supplier(self, core: BookingCore, admin: Principal) -> None:
        supplier = core.catalog.add_supplier("S1", "Boats", principal=admin)
        product = core.catalog.add_product(
            "dive-1", "Reef dive", "DIVE", principal=admin, supplier_id=supplier.id
        )
        assert product.kind is ProductKind.DIVE
        assert product.supplier_id == supplier.id
        assert product.code == "DIVE-1"

    def test_an_unknown_supplier_is_refused_on_supplier_id(
        self, core: BookingCore, admin: Principal, store: MemoryStore
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            core.catalog.add_product(
                "P1", "Trek", "trek", principal=admin, supplier_id=SupplierId(uuid4())
            )
        assert caught.value.fields == ("supplier_id",)
        assert store.count("products") == 0

    def test_an_unknown_kind_is_refused_on_kind(
        self, core: BookingCore, admin: Principal, store: MemoryStore
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            core.catalog.add_product("P1", "Trek", "spaceflight", principal=admin)
        assert caught.value.fields == ("kind",)
        assert caught.value.errors[0].code == "invalid_choice"
        assert store.count("products") == 0

    def test_a_duplicate_product_code_is_refused(self, core: BookingCore, admin: Principal) -> None:
        core.catalog.add_product("P1", "Trek", "trek", principal=admin)
        with pytest.raises(DuplicateError):
            core.catalog.add_product("p1", "Other trek", "trek", principal=admin)


class TestCatalogAudit:
    """Every change of reference data leaves an audit entry with who, what and the values."""

    def test_suppliers_products_and_locations_leave_their_trail(
        self, core: BookingCore, admin: Principal
    ) -> None:
        leh = core.catalog.add_location("LEH", "Leh", principal=admin)
        hotel = core.catalog.add_supplier("LAKESIDE", "Lakeside", principal=admin)
        room = core.catalog.add_product("ROOM", "Twin room", "hotel", principal=admin)
        core.catalog.update_supplier(
            hotel.id, name="Lakeside Hotel", email="desk@lakeside.example", principal=admin
        )
        core.catalog.update_supplier(hotel.id, name="Lakeside Hotel", principal=admin)  # no-op
        core.catalog.set_supplier_active(hotel.id, False, principal=admin)
        core.catalog.update_product(room.id, location_id=leh.id, principal=admin)
        core.catalog.set_product_active(room.id, False, principal=admin)
        core.catalog.set_location_active(leh.id, False, principal=admin)

        supplier_trail = core.audit.trail("supplier", hotel.id, principal=admin)
        assert [e.action.value for e in supplier_trail] == ["created", "updated", "deactivated"]
        assert supplier_trail[0].new_values["code"] == "LAKESIDE"
        assert supplier_trail[1].old_values == {"email": None, "name": "Lakeside"}
        assert supplier_trail[1].new_values == {
            "email": "desk@lakeside.example",
            "name": "Lakeside Hotel",
        }
        assert all(e.actor == admin.actor for e in supplier_trail)
        product_trail = core.audit.trail("product", room.id, principal=admin)
        assert [e.action.value for e in product_trail] == ["created", "updated", "deactivated"]
        assert product_trail[1].new_values == {"location_id": str(leh.id)}
        location_trail = core.audit.trail("location", leh.id, principal=admin)
        assert [e.action.value for e in location_trail] == ["created", "deactivated"]


class TestCreateSlot:
    @pytest.fixture
    def goa(self, core: BookingCore, admin: Principal) -> Location:
        return core.catalog.add_location("GOA", "Goa", principal=admin)

    def test_a_slot_starts_with_every_seat_free(
        self, core: BookingCore, admin: Principal, goa: Location, clock: FixedClock
    ) -> None:
        slot = _slot(core, admin, goa, clock, capacity=8)
        assert slot.seats_left == 8
        assert slot.seats_held == 0
        assert slot.currency == "INR"
        assert core.catalog.get_slot(slot.id, principal=admin).seats_left == 8

    @pytest.mark.parametrize("capacity", [0, -3])
    def test_a_capacity_below_one_is_refused(
        self,
        core: BookingCore,
        admin: Principal,
        goa: Location,
        clock: FixedClock,
        store: MemoryStore,
        capacity: int,
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _slot(core, admin, goa, clock, capacity=capacity)
        assert caught.value.fields == ("capacity",)
        assert store.count("slots") == 0

    def test_no_capacity_means_unlimited(
        self, core: BookingCore, admin: Principal, goa: Location, clock: FixedClock
    ) -> None:
        slot = _slot(core, admin, goa, clock, capacity=None)
        assert slot.capacity is None
        assert slot.seats_left is None
        assert slot.has_room_for(10_000)

    def test_a_naive_start_is_refused(
        self, core: BookingCore, admin: Principal, goa: Location, store: MemoryStore
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _slot(core, admin, goa, FixedClock(), starts_at=datetime(2026, 2, 1, 9))  # noqa: DTZ001
        assert caught.value.fields == ("starts_at",)
        assert caught.value.errors[0].code == "naive_datetime"
        assert store.count("slots") == 0

    def test_an_end_before_the_start_is_refused(
        self, core: BookingCore, admin: Principal, goa: Location, clock: FixedClock
    ) -> None:
        start = clock.now() + timedelta(days=7)
        with pytest.raises(ValidationError) as caught:
            _slot(core, admin, goa, clock, starts_at=start, ends_at=start - timedelta(hours=1))
        assert caught.value.fields == ("ends_at",)

    def test_an_unknown_location_is_refused(
        self, core: BookingCore, admin: Principal, clock: FixedClock, store: MemoryStore
    ) -> None:
        ghost = Location(LocationId(uuid4()), "GHOST", "Ghost", clock.now())
        with pytest.raises(ValidationError) as caught:
            _slot(core, admin, ghost, clock)
        assert caught.value.fields == ("location_id",)
        assert caught.value.errors[0].code == "unknown_reference"
        assert store.count("slots") == 0

    def test_an_inactive_location_is_refused(
        self, core: BookingCore, admin: Principal, goa: Location, clock: FixedClock
    ) -> None:
        core.catalog.set_location_active(goa.id, False, principal=admin)
        with pytest.raises(ValidationError) as caught:
            _slot(core, admin, goa, clock)
        assert caught.value.fields == ("location_id",)
        assert caught.value.errors[0].code == "inactive"

    def test_an_unknown_product_is_refused(
        self, core: BookingCore, admin: Principal, goa: Location, clock: FixedClock
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _slot(core, admin, goa, clock, product_id=ProductId(uuid4()))
        assert caught.value.fields == ("product_id",)

    def test_repeated_discount_thresholds_are_refused(
        self, core: BookingCore, admin: Principal, goa: Location, clock: FixedClock
    ) -> None:
        tiers = [DiscountTier(5, Decimal(10)), DiscountTier(5, Decimal(20))]
        with pytest.raises(ValidationError) as caught:
            _slot(core, admin, goa, clock, group_discounts=tiers)
        assert caught.value.fields == ("group_discounts",)

    def test_tiers_that_take_less_off_for_a_bigger_party_are_refused(
        self, core: BookingCore, admin: Principal, goa: Location, clock: FixedClock
    ) -> None:
        """20 % from 2 travelers and 10 % from 5 would charge a party of five more a head
        than a party of two: refused when the slot is made, nothing stored."""
        tiers = [DiscountTier(2, Decimal(20)), DiscountTier(5, Decimal(10))]
        with pytest.raises(ValidationError) as caught:
            _slot(core, admin, goa, clock, group_discounts=tiers)
        assert caught.value.fields == ("group_discounts",)
        assert caught.value.errors[0].code == "not_rising"
        assert core.catalog.list_slots(principal=admin).items == []
        same = [DiscountTier(2, Decimal(10)), DiscountTier(5, Decimal(10))]
        assert len(_slot(core, admin, goa, clock, group_discounts=same).group_discounts) == 2

    def test_discount_tiers_are_kept_in_threshold_order(
        self, core: BookingCore, admin: Principal, goa: Location, clock: FixedClock
    ) -> None:
        tiers = [DiscountTier(10, Decimal(15)), DiscountTier(5, Decimal(10))]
        slot = _slot(core, admin, goa, clock, group_discounts=tiers)
        assert [t.min_travelers for t in slot.group_discounts] == [5, 10]

    def test_a_negative_price_is_refused(
        self, core: BookingCore, admin: Principal, goa: Location, clock: FixedClock
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _slot(core, admin, goa, clock, price_per_traveler=Money("-1", "INR"))
        assert caught.value.fields == ("price_per_traveler",)

    def test_every_problem_is_reported_at_once(
        self, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        ghost = Location(LocationId(uuid4()), "GHOST", "Ghost", clock.now())
        with pytest.raises(ValidationError) as caught:
            _slot(core, admin, ghost, clock, capacity=0, starts_at=datetime(2026, 2, 1))  # noqa: DTZ001
        assert set(caught.value.fields) == {"capacity", "starts_at", "location_id"}

    def test_a_customer_may_not_create_slots(
        self, core: BookingCore, goa: Location, clock: FixedClock, store: MemoryStore
    ) -> None:
        with pytest.raises(PermissionDeniedError):
            _slot(core, Principal.customer(CustomerId(uuid4())), goa, clock)
        assert store.count("slots") == 0


class TestChangeCapacity:
    @pytest.fixture
    def slot(self, core: BookingCore, admin: Principal, clock: FixedClock) -> Slot:
        goa = core.catalog.add_location("GOA", "Goa", principal=admin)
        return _slot(core, admin, goa, clock, capacity=5)

    def test_capacity_cannot_shrink_below_the_seats_held(
        self, core: BookingCore, admin: Principal, slot: Slot
    ) -> None:
        _book(core, admin, slot, "Asha Rao", "Bala Iyer", "Chitra Nair")
        with pytest.raises(ValidationError) as caught:
            core.catalog.change_capacity(slot.id, 2, principal=admin)
        assert caught.value.fields == ("capacity",)
        assert caught.value.errors[0].code == "below_seats_held"
        assert core.catalog.get_slot(slot.id, principal=admin).capacity == 5

    def test_capacity_may_shrink_to_exactly_the_seats_held(
        self, core: BookingCore, admin: Principal, slot: Slot
    ) -> None:
        _book(core, admin, slot, "Asha Rao", "Bala Iyer", "Chitra Nair")
        changed = core.catalog.change_capacity(slot.id, 3, principal=admin)
        assert changed.capacity == 3
        assert changed.seats_left == 0
        assert core.catalog.get_slot(slot.id, principal=admin).seats_left == 0

    def test_capacity_may_grow_or_become_unlimited(
        self, core: BookingCore, admin: Principal, slot: Slot
    ) -> None:
        assert core.catalog.change_capacity(slot.id, 9, principal=admin).seats_left == 9
        assert core.catalog.change_capacity(slot.id, None, principal=admin).seats_left is None

    def test_a_capacity_below_one_is_refused(
        self, core: BookingCore, admin: Principal, slot: Slot
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            core.catalog.change_capacity(slot.id, 0, principal=admin)
        assert caught.value.fields == ("capacity",)

    def test_an_unknown_slot_is_not_found(self, core: BookingCore, admin: Principal) -> None:
        with pytest.raises(NotFoundError):
            core.catalog.change_capacity(SlotId(uuid4()), 3, principal=admin)


class TestPartnerVisibility:
    @pytest.fixture
    def locations(self, core: BookingCore, admin: Principal) -> tuple[Location, Location]:
        goa = core.catalog.add_location("GOA", "Goa", principal=admin)
        manali = core.catalog.add_location("MANALI", "Manali", principal=admin)
        return goa, manali

    @pytest.fixture
    def partner(
        self, core: BookingCore, admin: Principal, locations: tuple[Location, Location]
    ) -> Principal:
        registered = core.partners.register(
            name="Trips",
            company_name="Trips Ltd",
            contact_email="ops@trips.example",
            principal=admin,
            allowed_location_ids=[locations[0].id],
        ).partner
        return Principal.partner(registered.id)

    def test_a_partner_lists_only_its_allowed_locations(
        self,
        core: BookingCore,
        admin: Principal,
        locations: tuple[Location, Location],
        partner: Principal,
    ) -> None:
        goa, _ = locations
        assert [loc.id for loc in core.catalog.list_locations(principal=partner)] == [goa.id]
        assert len(core.catalog.list_locations(principal=admin)) == 2

    def test_a_partner_lists_only_slots_at_its_allowed_locations(
        self,
        core: BookingCore,
        admin: Principal,
        clock: FixedClock,
        locations: tuple[Location, Location],
        partner: Principal,
    ) -> None:
        goa, manali = locations
        at_goa = _slot(core, admin, goa, clock)
        _slot(core, admin, manali, clock)
        assert [s.id for s in core.catalog.list_slots(principal=partner)] == [at_goa.id]
        assert len(core.catalog.list_slots(principal=admin)) == 2

    def test_a_partner_gets_not_found_for_a_slot_elsewhere(
        self,
        core: BookingCore,
        admin: Principal,
        clock: FixedClock,
        locations: tuple[Location, Location],
        partner: Principal,
    ) -> None:
        goa, manali = locations
        at_goa = _slot(core, admin, goa, clock)
        assert core.catalog.get_slot(at_goa.id, principal=partner).id == at_goa.id
        elsewhere = _slot(core, admin, manali, clock)
        with pytest.raises(NotFoundError):
            core.catalog.get_slot(elsewhere.id, principal=partner)
        with pytest.raises(NotFoundError):
            core.catalog.location("MANALI", principal=partner)

    def test_an_inactive_partner_sees_no_locations(
        self,
        core: BookingCore,
        admin: Principal,
        locations: tuple[Location, Location],
        partner: Principal,
    ) -> None:
        assert partner.id is not None
        core.partners.set_active(PartnerId(partner.id), False, principal=admin)
        assert core.catalog.list_locations(principal=partner) == []


class TestClosingALocation:
    def test_slots_at_a_closed_location_cannot_be_booked(
        self, core: BookingCore, admin: Principal, clock: FixedClock, store: MemoryStore
    ) -> None:
        goa = core.catalog.add_location("GOA", "Goa", principal=admin)
        slot = _slot(core, admin, goa, clock)
        closed = core.catalog.set_location_active("goa", False, principal=admin)
        assert not closed.is_active
        with pytest.raises(ValidationError) as caught:
            _book(core, admin, slot, "Asha Rao")
        assert caught.value.fields == ("slot_id",)
        assert caught.value.errors[0].code == "inactive"
        assert store.count("bookings") == 0
        assert core.catalog.get_slot(slot.id, principal=admin).seats_held == 0

    def test_reopening_a_location_makes_its_slots_bookable_again(
        self, core: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        goa = core.catalog.add_location("GOA", "Goa", principal=admin)
        slot = _slot(core, admin, goa, clock)
        core.catalog.set_location_active(goa.id, False, principal=admin)
        core.catalog.set_location_active(goa.id, True, principal=admin)
        _book(core, admin, slot, "Asha Rao")
        assert core.catalog.get_slot(slot.id, principal=admin).seats_held == 1

    def test_only_active_locations_can_be_listed(self, core: BookingCore, admin: Principal) -> None:
        core.catalog.add_location("GOA", "Goa", principal=admin)
        core.catalog.add_location("MANALI", "Manali", principal=admin)
        core.catalog.set_location_active("MANALI", False, principal=admin)
        active = core.catalog.list_locations(principal=admin, only_active=True)
        assert [loc.code for loc in active] == ["GOA"]


class TestChangeCapacityInputTypes:
    """change_capacity checks its input exactly as create_slot does."""

    @pytest.mark.parametrize(
        ("capacity", "code"), [(True, "invalid_type"), ("5", "invalid_type"), (0, "out_of_range")]
    )
    def test_a_non_integer_or_non_positive_capacity_is_a_validation_error(
        self, core: BookingCore, admin: Principal, clock: FixedClock, capacity: object, code: str
    ) -> None:
        location = core.catalog.add_location("CAP", "Cap", principal=admin)
        slot = core.catalog.create_slot(
            location_id=location.id,
            starts_at=clock.now() + timedelta(days=1),
            price_per_traveler=Money("1", "INR"),
            capacity=3,
            principal=admin,
        )
        with pytest.raises(ValidationError) as error:
            core.catalog.change_capacity(slot.id, capacity, principal=admin)  # type: ignore[arg-type]
        assert (error.value.fields, error.value.errors[0].code) == (("capacity",), code)
        assert core.catalog.get_slot(slot.id, principal=admin).capacity == 3
