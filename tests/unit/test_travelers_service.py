"""The traveler service: a customer's saved travelers, who may see them, and edits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    NotFoundError,
    PermissionDeniedError,
    PhoneNumber,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    StaleVersionError,
    TravelerDetails,
    TravelerId,
    ValidationError,
)
from bookingcore.domain import Customer, Gender, Traveler
from bookingcore.testing import FixedClock
from bookingcore_adapters.memory import MemoryStore

FULL = TravelerDetails(
    name="  Asha   Rao ",
    age=30,
    birth_date=date(1995, 5, 1),
    gender="F",
    phone="+91 98765 43210",
    emergency_contact_name="Ravi Rao",
    emergency_contact_phone="098765 43211",
    special_requirements="Vegetarian meals",
)


def _customer(core: BookingCore, admin: Principal, phone: str) -> Customer:
    return core.customers.register(phone, principal=admin).customer


@pytest.fixture
def me(core: BookingCore, admin: Principal) -> Customer:
    return _customer(core, admin, "+919811111111")


@pytest.fixture
def as_me(me: Customer) -> Principal:
    return Principal.customer(me.id)


@pytest.fixture
def stranger(core: BookingCore, admin: Principal) -> Principal:
    return Principal.customer(_customer(core, admin, "+919822222222").id)


@pytest.fixture
def saved(core: BookingCore, me: Customer, as_me: Principal) -> Traveler:
    return core.travelers.add(me.id, TravelerDetails("Bala Iyer", age=41), principal=as_me)


class TestAdd:
    def test_every_field_is_validated_and_normalised(
        self, core: BookingCore, me: Customer, as_me: Principal, store: MemoryStore
    ) -> None:
        traveler = core.travelers.add(me.id, FULL, principal=as_me)
        assert traveler.customer_id == me.id
        assert traveler.name == "Asha Rao"
        assert traveler.age == 30
        assert traveler.birth_date == date(1995, 5, 1)
        assert traveler.gender is Gender.FEMALE
        assert traveler.phone == PhoneNumber("+919876543210")
        assert traveler.emergency_contact_name == "Ravi Rao"
        assert traveler.emergency_contact_phone == PhoneNumber("+919876543211")
        assert traveler.special_requirements == "Vegetarian meals"
        assert traveler.version == 1
        assert traveler.deleted_at is None
        assert store.count("travelers") == 1

    def test_the_saved_traveler_reads_back_the_same(
        self, core: BookingCore, me: Customer, as_me: Principal
    ) -> None:
        added = core.travelers.add(me.id, FULL, principal=as_me)
        stored = core.travelers.get(added.id, principal=as_me)
        assert stored.emergency_contact_phone is not None
        assert stored.emergency_contact_phone.e164 == "+919876543211"
        assert stored == added

    def test_only_a_name_is_required(
        self, core: BookingCore, me: Customer, as_me: Principal
    ) -> None:
        traveler = core.travelers.add(me.id, TravelerDetails("Bo"), principal=as_me)
        assert traveler.phone is None
        assert traveler.gender is None
        assert traveler.age is None

    def test_every_bad_field_is_reported_in_one_error(
        self,
        core: BookingCore,
        me: Customer,
        as_me: Principal,
        clock: FixedClock,
        store: MemoryStore,
    ) -> None:
        bad = TravelerDetails(
            name="A",
            age=-1,
            birth_date=clock.now().date() + timedelta(days=1),
            gender="robot",
            phone="12",
            emergency_contact_phone="+91 12345",
        )
        with pytest.raises(ValidationError) as caught:
            core.travelers.add(me.id, bad, principal=as_me)
        assert set(caught.value.fields) == {
            "name",
            "age",
            "birth_date",
            "gender",
            "phone",
            "emergency_contact_phone",
        }
        assert len(caught.value.errors) == 6
        assert store.count("travelers") == 0

    @pytest.mark.parametrize("age", [-1, 131])
    def test_an_age_outside_zero_to_one_hundred_thirty_is_refused(
        self, core: BookingCore, me: Customer, as_me: Principal, age: int
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            core.travelers.add(me.id, TravelerDetails("Asha Rao", age=age), principal=as_me)
        assert caught.value.fields == ("age",)
        assert caught.value.errors[0].code == "out_of_range"

    @pytest.mark.parametrize("age", [0, 130])
    def test_the_age_bounds_are_allowed(
        self, core: BookingCore, me: Customer, as_me: Principal, age: int
    ) -> None:
        traveler = core.travelers.add(me.id, TravelerDetails("Asha Rao", age=age), principal=as_me)
        assert traveler.age == age

    def test_a_birth_date_today_is_allowed(
        self, core: BookingCore, me: Customer, as_me: Principal, clock: FixedClock
    ) -> None:
        today = clock.now().date()
        traveler = core.travelers.add(
            me.id, TravelerDetails("Baby Rao", birth_date=today), principal=as_me
        )
        assert traveler.birth_date == today

    def test_a_bad_emergency_contact_phone_names_that_field(
        self, core: BookingCore, me: Customer, as_me: Principal
    ) -> None:
        details = TravelerDetails("Asha Rao", emergency_contact_phone="abc")
        with pytest.raises(ValidationError) as caught:
            core.travelers.add(me.id, details, principal=as_me)
        assert caught.value.fields == ("emergency_contact_phone",)
        assert caught.value.errors[0].code == "invalid_phone"

    def test_another_customer_may_not_add_to_my_travelers(
        self, core: BookingCore, me: Customer, stranger: Principal, store: MemoryStore
    ) -> None:
        with pytest.raises(NotFoundError):
            core.travelers.add(me.id, TravelerDetails("Intruder"), principal=stranger)
        assert store.count("travelers") == 0


class TestList:
    def test_travelers_are_listed_oldest_first(
        self, core: BookingCore, me: Customer, as_me: Principal, clock: FixedClock
    ) -> None:
        start = clock.now()
        clock.set(start + timedelta(hours=2))
        later = core.travelers.add(me.id, TravelerDetails("Amy Shah"), principal=as_me)
        clock.set(start + timedelta(hours=1))
        earlier = core.travelers.add(me.id, TravelerDetails("Zed Khan"), principal=as_me)
        listed = core.travelers.list(me.id, principal=as_me)
        assert [t.id for t in listed] == [earlier.id, later.id]

    def test_only_the_customers_own_travelers_are_listed(
        self, core: BookingCore, admin: Principal, me: Customer, as_me: Principal, saved: Traveler
    ) -> None:
        other = _customer(core, admin, "+919833333333")
        core.travelers.add(other.id, TravelerDetails("Not Mine"), principal=admin)
        assert [t.id for t in core.travelers.list(me.id, principal=as_me)] == [saved.id]


class TestUpdate:
    def test_an_update_replaces_the_details_and_bumps_the_version(
        self, core: BookingCore, as_me: Principal, saved: Traveler, clock: FixedClock
    ) -> None:
        later = clock.advance(hours=1)
        updated = core.travelers.update(
            saved.id, TravelerDetails("Bala Iyer", age=42, phone="098111 22233"), principal=as_me
        )
        assert updated.version == 2
        assert updated.age == 42
        assert updated.phone == PhoneNumber("+919811122233")
        assert updated.updated_at == later
        assert updated.created_at == saved.created_at
        assert core.travelers.get(saved.id, principal=as_me).version == 2

    def test_the_current_expected_version_is_accepted(
        self, core: BookingCore, as_me: Principal, saved: Traveler
    ) -> None:
        updated = core.travelers.update(
            saved.id, TravelerDetails("Bala Iyer", age=50), principal=as_me, expected_version=1
        )
        assert updated.version == 2

    def test_a_stale_expected_version_is_refused_and_nothing_changes(
        self, core: BookingCore, as_me: Principal, saved: Traveler
    ) -> None:
        core.travelers.update(saved.id, TravelerDetails("Bala Iyer", age=42), principal=as_me)
        with pytest.raises(StaleVersionError) as caught:
            core.travelers.update(
                saved.id, TravelerDetails("Bala Iyer", age=99), principal=as_me, expected_version=1
            )
        assert caught.value.expected == 1
        assert caught.value.actual == 2
        stored = core.travelers.get(saved.id, principal=as_me)
        assert stored.age == 42
        assert stored.version == 2

    def test_bad_details_change_nothing(
        self, core: BookingCore, as_me: Principal, saved: Traveler
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            core.travelers.update(saved.id, TravelerDetails("B", age=131), principal=as_me)
        assert set(caught.value.fields) == {"name", "age"}
        stored = core.travelers.get(saved.id, principal=as_me)
        assert stored.name == "Bala Iyer"
        assert stored.age == 41
        assert stored.version == 1

    def test_a_deleted_traveler_cannot_be_updated(
        self, core: BookingCore, as_me: Principal, saved: Traveler
    ) -> None:
        core.travelers.delete(saved.id, principal=as_me)
        with pytest.raises(NotFoundError):
            core.travelers.update(saved.id, TravelerDetails("Bala Iyer"), principal=as_me)


class TestDelete:
    def test_a_deleted_traveler_leaves_the_list_but_is_kept(
        self,
        core: BookingCore,
        me: Customer,
        as_me: Principal,
        saved: Traveler,
        clock: FixedClock,
        store: MemoryStore,
    ) -> None:
        kept = core.travelers.add(me.id, TravelerDetails("Chitra Nair"), principal=as_me)
        when = clock.advance(minutes=5)
        deleted = core.travelers.delete(saved.id, principal=as_me)
        assert deleted.deleted_at == when
        assert deleted.is_deleted
        assert [t.id for t in core.travelers.list(me.id, principal=as_me)] == [kept.id]
        everyone = core.travelers.list(me.id, principal=as_me, include_deleted=True)
        assert {t.id for t in everyone} == {saved.id, kept.id}
        assert core.travelers.get(saved.id, principal=as_me).is_deleted
        assert store.count("travelers") == 2

    def test_deleting_twice_is_harmless(
        self, core: BookingCore, as_me: Principal, saved: Traveler, clock: FixedClock
    ) -> None:
        first = core.travelers.delete(saved.id, principal=as_me)
        clock.advance(hours=1)
        second = core.travelers.delete(saved.id, principal=as_me)
        assert second.deleted_at == first.deleted_at
        assert second.version == first.version == 2


class TestVisibility:
    def test_another_customer_cannot_get_my_traveler(
        self, core: BookingCore, saved: Traveler, stranger: Principal
    ) -> None:
        with pytest.raises(NotFoundError):
            core.travelers.get(saved.id, principal=stranger)

    def test_another_customer_cannot_list_my_travelers(
        self, core: BookingCore, me: Customer, saved: Traveler, stranger: Principal
    ) -> None:
        with pytest.raises(NotFoundError):
            core.travelers.list(me.id, principal=stranger)

    def test_another_customer_cannot_update_my_traveler(
        self, core: BookingCore, as_me: Principal, saved: Traveler, stranger: Principal
    ) -> None:
        with pytest.raises(NotFoundError):
            core.travelers.update(saved.id, TravelerDetails("Hijacked"), principal=stranger)
        assert core.travelers.get(saved.id, principal=as_me).name == "Bala Iyer"

    def test_another_customer_cannot_delete_my_traveler(
        self, core: BookingCore, as_me: Principal, saved: Traveler, stranger: Principal
    ) -> None:
        with pytest.raises(NotFoundError):
            core.travelers.delete(saved.id, principal=stranger)
        assert not core.travelers.get(saved.id, principal=as_me).is_deleted

    def test_an_unknown_traveler_is_not_found(self, core: BookingCore, as_me: Principal) -> None:
        with pytest.raises(NotFoundError):
            core.travelers.get(TravelerId(uuid4()), principal=as_me)

    def test_an_admin_sees_and_changes_any_customers_travelers(
        self, core: BookingCore, admin: Principal, me: Customer, saved: Traveler
    ) -> None:
        assert [t.id for t in core.travelers.list(me.id, principal=admin)] == [saved.id]
        assert core.travelers.get(saved.id, principal=admin).name == "Bala Iyer"
        updated = core.travelers.update(
            saved.id, TravelerDetails("Bala Iyer", age=45), principal=admin
        )
        assert updated.age == 45

    def test_an_editor_may_see_but_not_change_travelers(
        self, core: BookingCore, me: Customer, as_me: Principal, saved: Traveler
    ) -> None:
        editor = Principal.staff(StaffId(uuid4()), StaffRole.EDITOR)
        assert core.travelers.get(saved.id, principal=editor).id == saved.id
        with pytest.raises(PermissionDeniedError):
            core.travelers.delete(saved.id, principal=editor)
        assert not core.travelers.get(saved.id, principal=as_me).is_deleted


class TestPartnerVisibility:
    @pytest.fixture
    def partner(self, core: BookingCore, admin: Principal) -> Principal:
        registered = core.partners.register(
            name="Trips",
            company_name="Trips Ltd",
            contact_email="ops@trips.example",
            principal=admin,
        ).partner
        return Principal.partner(registered.id)

    @pytest.fixture
    def partner_customer(self, core: BookingCore, partner: Principal) -> Customer:
        registration = core.customers.register("+919844444444", principal=partner)
        assert registration.created
        return registration.customer

    def test_a_partner_manages_travelers_of_customers_it_created(
        self, core: BookingCore, partner: Principal, partner_customer: Customer
    ) -> None:
        traveler = core.travelers.add(
            partner_customer.id, TravelerDetails("Dev Menon"), principal=partner
        )
        listed = core.travelers.list(partner_customer.id, principal=partner)
        assert [t.id for t in listed] == [traveler.id]
        assert core.travelers.get(traveler.id, principal=partner).name == "Dev Menon"
        assert core.travelers.delete(traveler.id, principal=partner).is_deleted

    def test_a_partner_cannot_see_travelers_of_other_customers(
        self, core: BookingCore, partner: Principal, me: Customer, saved: Traveler
    ) -> None:
        with pytest.raises(NotFoundError):
            core.travelers.get(saved.id, principal=partner)
        with pytest.raises(NotFoundError):
            core.travelers.list(me.id, principal=partner)
        with pytest.raises(NotFoundError):
            core.travelers.add(me.id, TravelerDetails("Sneaky"), principal=partner)

    def test_another_partner_cannot_see_the_first_partners_travelers(
        self, core: BookingCore, admin: Principal, partner_customer: Customer, partner: Principal
    ) -> None:
        traveler = core.travelers.add(
            partner_customer.id, TravelerDetails("Dev Menon"), principal=partner
        )
        rival = core.partners.register(
            name="Rival",
            company_name="Rival Ltd",
            contact_email="ops@rival.example",
            principal=admin,
        ).partner
        with pytest.raises(NotFoundError):
            core.travelers.get(traveler.id, principal=Principal.partner(rival.id))
        with pytest.raises(NotFoundError):
            core.travelers.list(partner_customer.id, principal=Principal.partner(rival.id))


@pytest.mark.parametrize("birth_date", ["1995-05-01", datetime(1995, 5, 1, tzinfo=UTC)])
def test_a_birth_date_that_is_not_a_day_is_refused_with_the_other_bad_fields(
    core: BookingCore, me: Customer, as_me: Principal, store: MemoryStore, birth_date: object
) -> None:
    bad = TravelerDetails(name="A", birth_date=birth_date)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as caught:
        core.travelers.add(me.id, bad, principal=as_me)
    assert [(e.field, e.code) for e in caught.value.errors] == [
        ("name", "too_short"),
        ("birth_date", "invalid_type"),
    ]
    assert store.count("travelers") == 0


class TestBusinessCalendar:
    """A birth date may be today on the business's calendar, never tomorrow there,
    whatever the date is in UTC."""

    @staticmethod
    def _core(zone: str, now: datetime) -> tuple[BookingCore, Principal, Customer]:
        core = BookingCore(
            uow_factory=MemoryStore().unit_of_work,
            clock=FixedClock(now),
            settings=Settings(default_region="IN", timezone=zone),
        )
        admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
        return core, admin, _customer(core, admin, "+919811111111")

    def test_a_baby_born_today_in_kolkata_is_saved_while_utc_is_still_yesterday(self) -> None:
        # 01:30 on 2 January in Kolkata is 20:00 on 1 January in UTC.
        core, admin, me = self._core("Asia/Kolkata", datetime(2026, 1, 1, 20, 0, tzinfo=UTC))
        born = TravelerDetails("Baby Rao", birth_date=date(2026, 1, 2))
        traveler = core.travelers.add(me.id, born, principal=admin)
        assert traveler.birth_date == date(2026, 1, 2)
        updated = core.travelers.update(traveler.id, born, principal=admin)
        assert updated.birth_date == date(2026, 1, 2)

    def test_tomorrow_in_new_york_is_refused_though_it_is_today_in_utc(self) -> None:
        # 21:00 on 1 January in New York is 02:00 on 2 January in UTC.
        core, admin, me = self._core("America/New_York", datetime(2026, 1, 2, 2, 0, tzinfo=UTC))
        with pytest.raises(ValidationError) as caught:
            core.travelers.add(
                me.id, TravelerDetails("Baby Rao", birth_date=date(2026, 1, 2)), principal=admin
            )
        assert caught.value.fields == ("birth_date",)

    def test_a_booking_saves_a_traveler_born_today_in_kolkata(self) -> None:
        now = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)
        core, admin, me = self._core("Asia/Kolkata", now)
        location = core.catalog.add_location("GOA", "Goa", principal=admin)
        slot = core.catalog.create_slot(
            location_id=location.id,
            starts_at=now + timedelta(days=7),
            price_per_traveler=Money("1000", "INR"),
            capacity=4,
            principal=admin,
        )
        booking = core.bookings.book(
            BookingRequest(
                slot.id,
                [
                    NewTraveler(TravelerDetails("Asha Rao"), is_primary=True),
                    NewTraveler(TravelerDetails("Baby Rao", birth_date=date(2026, 1, 2))),
                ],
                customer_id=me.id,
            ),
            principal=admin,
        )
        baby = core.travelers.get(booking.travelers[1].traveler_id, principal=admin)
        assert baby.birth_date == date(2026, 1, 2)
