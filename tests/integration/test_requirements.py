"""Who may be booked on what, on memory, SQLite and PostgreSQL: a product's age limits
and certificates hold on booking, joining a waiting list, changing travelers,
rescheduling and imports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from tests._sqlite import sqlite_file_store
from tests.integration._sources import ListSource

from bookingcore import (
    BookingCore,
    BookingRequest,
    CustomerDetails,
    IdempotencyConflictError,
    Money,
    NewTraveler,
    PermissionDeniedError,
    Principal,
    ProductRequirements,
    SavedTraveler,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import AuditAction, Booking, ImportStatus, Slot
from bookingcore.domain.values import CustomerId, ProductId, TravelerId
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
OW, AOW = "PADI Open Water", "PADI Advanced Open Water"


def years_before(day: date, years: int, *, days: int = 0) -> date:
    return day.replace(year=day.year - years) + timedelta(days=days)


class Centre:
    """A dive centre: an Open Water course (10 and over), a deep dive (Advanced
    Open Water), fun dives (anyone), each with a slot 30 days out; a customer,
    Asha Rao."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=store.unit_of_work, clock=self.clock, ids=SequentialIds()
        )
        catalog = self.core.catalog
        self.reef = catalog.add_location("REEF", "Reef dive centre", principal=ADMIN)
        self.course = catalog.add_product(
            "OW", "Open Water course", "course", principal=ADMIN,
            requirements=ProductRequirements(min_age=10),
        )  # fmt: skip
        self.deep = catalog.add_product(
            "DEEP", "Deep dive", "dive", principal=ADMIN,
            requirements=ProductRequirements(certificates=[AOW]),
        )  # fmt: skip
        self.fun = catalog.add_product("FUN", "Fun dives", "dive", principal=ADMIN)
        self.course_slot = self.slot(self.course.id)
        self.deep_slot = self.slot(self.deep.id)
        self.fun_slot = self.slot(self.fun.id)
        self.day = self.course_slot.starts_at.date()
        self.customer: CustomerId = self.core.customers.register(
            "+919812300001", principal=ADMIN, name="Asha Rao"
        ).customer.id
        self.as_customer = Principal.customer(self.customer)
        self._earned = 0

    def slot(self, product_id: ProductId | None, *, days: int = 30) -> Slot:
        return self.core.catalog.create_slot(
            location_id=self.reef.id,
            starts_at=self.clock.now() + timedelta(days=days),
            price_per_traveler=Money("1000", "INR"),
            capacity=20,
            product_id=product_id,
            principal=ADMIN,
        )

    def book(
        self,
        slot: Slot,
        *people: NewTraveler | SavedTraveler,
        principal: Principal | None = None,
        **kw: object,
    ) -> Booking:
        return self.core.bookings.book(
            BookingRequest(slot.id, people, customer_id=self.customer, **kw),  # type: ignore[arg-type]
            principal=principal or self.as_customer,
        )

    def certify(self, kind: str, *, traveler: TravelerId | None, days: int | None = None) -> None:
        """``kind`` earned on a completed fun dive (by ``traveler``, else the customer
        naming no traveler), expiring ``days`` after the course's start (None: never)."""
        self._earned += 1
        slot = self.slot(self.fun.id, days=1 + self._earned)
        who = person("Asha Rao") if traveler is None else SavedTraveler(traveler, is_primary=True)
        done = self.book(slot, who, principal=ADMIN)
        self.core.bookings.transition(done.id, "confirmed", principal=ADMIN)
        self.core.bookings.transition(done.id, "completed", principal=ADMIN)
        expires = None if days is None else self.course_slot.starts_at + timedelta(days=days)
        self.core.certificates.issue(
            done.id,
            kind=kind,
            number=f"N-{self._earned}",
            traveler_id=traveler,
            issued_at=self.clock.now() - timedelta(days=400),
            expires_at=expires,
            principal=ADMIN,
        )

    def saved(self, name: str, **details: object) -> TravelerId:
        return self.core.travelers.add(
            self.customer,
            TravelerDetails(name, **details),
            principal=ADMIN,  # type: ignore[arg-type]
        ).id


def person(name: str, *, primary: bool = True, **details: object) -> NewTraveler:
    return NewTraveler(TravelerDetails(name, **details), is_primary=primary)  # type: ignore[arg-type]


@pytest.fixture
def centre(any_store: MemoryStore | SqlStore) -> Centre:
    return Centre(any_store)


def problems(caught: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in caught.value.errors]


class TestBooking:
    def test_every_traveler_below_the_minimum_age_is_named_at_once(self, centre: Centre) -> None:
        ten_today = person("Kiran", birth_date=years_before(centre.day, 10))
        nine = person("Meera", primary=False, birth_date=years_before(centre.day, 10, days=1))
        unknown = person("Dev", primary=False)
        with pytest.raises(ValidationError) as caught:
            centre.book(centre.course_slot, ten_today, nine, unknown)
        assert problems(caught) == [
            ("travelers[1].age", "too_young"),
            ("travelers[2].age", "age_unknown"),
        ]
        assert centre.core.catalog.get_slot(centre.course_slot.id, principal=ADMIN).seats_held == 0
        # A birthday on the slot's start day counts: the ten-year-old goes on.
        booked = centre.book(centre.course_slot, ten_today)
        assert len(booked.travelers) == 1

    def test_a_stated_age_is_enough_and_other_products_take_anyone(self, centre: Centre) -> None:
        assert centre.book(centre.course_slot, person("Kiran", age=10)).travelers
        assert centre.book(centre.fun_slot, person("Tara", age=6)).travelers

    def test_a_saved_traveler_s_certificate_counts_until_it_expires(self, centre: Centre) -> None:
        ravi = centre.saved("Ravi Kumar")
        lapsed = centre.saved("Sita Kumar")
        centre.certify(AOW, traveler=ravi, days=1)
        centre.certify(AOW, traveler=lapsed, days=-1)  # expires the day before the start
        with pytest.raises(ValidationError) as caught:
            centre.book(
                centre.deep_slot,
                SavedTraveler(ravi, is_primary=True),
                SavedTraveler(lapsed),
                person("Nobody Certified", primary=False),
            )
        assert problems(caught) == [
            ("travelers[1].certificates", "certificate_expired"),
            ("travelers[2].certificates", "certificate_missing"),
        ]
        assert centre.book(centre.deep_slot, SavedTraveler(ravi, is_primary=True)).travelers

    def test_the_customer_s_own_certificate_counts_for_the_traveler_who_is_them(
        self, centre: Centre
    ) -> None:
        centre.certify(AOW, traveler=None)  # issued to the customer, naming no traveler
        with pytest.raises(ValidationError) as caught:
            centre.book(centre.deep_slot, person("Ravi Kumar"))
        assert problems(caught) == [("travelers[0].certificates", "certificate_missing")]
        assert centre.book(centre.deep_slot, person(" asha rao ")).travelers

    def test_staff_may_override_and_the_waiver_is_noted_customers_may_not(
        self, centre: Centre
    ) -> None:
        young = person("Meera", birth_date=years_before(centre.day, 9))
        with pytest.raises(PermissionDeniedError):
            centre.book(centre.course_slot, young, override_requirements=True)
        booked = centre.book(centre.course_slot, young, principal=ADMIN, override_requirements=True)
        trail = centre.core.bookings.audit_trail(booked.id, principal=ADMIN)
        notes = [e for e in trail if e.action is AuditAction.NOTE_ADDED]
        assert len(notes) == 1
        assert "travelers[0].age: too_young" in str(notes[0].new_values["note"])
        assert notes[0].actor == ADMIN.actor

    def test_the_host_sets_and_clears_requirements_audited_and_keyed(self, centre: Centre) -> None:
        catalog = centre.core.catalog
        strict = ProductRequirements(min_age=12, max_age=60)
        changed = catalog.set_requirements(
            centre.fun.id, strict, principal=ADMIN, idempotency_key="k-1"
        )
        assert changed.requirements == strict
        again = catalog.set_requirements(
            centre.fun.id, strict, principal=ADMIN, idempotency_key="k-1"
        )
        assert again.requirements == strict
        with pytest.raises(IdempotencyConflictError):
            catalog.set_requirements(centre.fun.id, None, principal=ADMIN, idempotency_key="k-1")
        with pytest.raises(ValidationError) as caught:
            centre.book(centre.fun_slot, person("Old Timer", age=61))
        assert problems(caught) == [("travelers[0].age", "too_old")]
        assert catalog.set_requirements(centre.fun.id, None, principal=ADMIN).requirements is None
        assert centre.book(centre.fun_slot, person("Old Timer", age=61)).travelers
        updates = [
            e
            for e in centre.core.audit.trail("product", centre.fun.id, principal=ADMIN)
            if e.action is AuditAction.UPDATED
        ]
        changes = [(e.old_values, e.new_values) for e in updates]
        # set once (the keyed retry audits nothing), then cleared; one clock tick for both
        assert len(changes) == 2
        assert ({"requirements": None}, {"requirements": strict.as_data()}) in changes
        assert ({"requirements": strict.as_data()}, {"requirements": None}) in changes

    def test_setting_requirements_is_checked(self, centre: Centre) -> None:
        with pytest.raises(ValidationError) as caught:
            centre.core.catalog.set_requirements(
                centre.fun.id,
                {"min_age": 10},
                principal=ADMIN,  # type: ignore[arg-type]
            )
        assert problems(caught) == [("requirements", "invalid_type")]
        with pytest.raises(PermissionDeniedError):
            centre.core.catalog.set_requirements(
                centre.fun.id, ProductRequirements(min_age=1), principal=centre.as_customer
            )


class TestChanges:
    def test_an_added_traveler_is_checked_and_nothing_changes_when_refused(
        self, centre: Centre
    ) -> None:
        booked = centre.book(centre.course_slot, person("Kiran", age=11))
        with pytest.raises(ValidationError) as caught:
            centre.core.bookings.change_travelers(
                booked.id,
                add=[person("Meera", primary=False, birth_date=years_before(centre.day, 8))],
                principal=centre.as_customer,
            )
        assert problems(caught) == [("travelers[0].age", "too_young")]
        after = centre.core.bookings.get(booked.id, principal=ADMIN)
        assert (after.version, len(after.travelers)) == (booked.version, 1)
        added = centre.core.bookings.change_travelers(
            booked.id, add=[person("Dev", primary=False, age=12)], principal=centre.as_customer
        )
        assert len(added.travelers) == 2

    def test_staff_add_a_refused_traveler_with_an_override_the_customer_may_not(
        self, centre: Centre
    ) -> None:
        booked = centre.book(centre.course_slot, person("Kiran", age=11))
        young = person("Meera", primary=False, age=7)
        with pytest.raises(PermissionDeniedError):
            centre.core.bookings.change_travelers(
                booked.id, add=[young], principal=centre.as_customer, override_requirements=True
            )
        changed = centre.core.bookings.change_travelers(
            booked.id,
            add=[young],
            principal=ADMIN,
            override_requirements=True,
            idempotency_key="add-meera",
        )
        assert len(changed.travelers) == 2
        again = centre.core.bookings.change_travelers(
            booked.id,
            add=[young],
            principal=ADMIN,
            override_requirements=True,
            idempotency_key="add-meera",
        )
        assert len(again.travelers) == 2  # the retry adds nobody twice
        with pytest.raises(IdempotencyConflictError):  # the same key, asked without the override
            centre.core.bookings.change_travelers(
                booked.id, add=[young], principal=ADMIN, idempotency_key="add-meera"
            )
        notes = centre.core.bookings.notes(booked.id, principal=ADMIN)
        assert [n.text.split(":")[0] for n in notes] == [
            "Travelers added despite the product's requirements"
        ]

    def test_a_reschedule_onto_another_product_holds_its_requirements(self, centre: Centre) -> None:
        booked = centre.book(centre.fun_slot, person("Kiran", age=9))
        other_fun = centre.slot(centre.fun.id, days=31)
        with pytest.raises(PermissionDeniedError):  # an override is staff's, wherever it goes
            centre.core.bookings.reschedule(
                booked.id, other_fun.id, principal=centre.as_customer, override_requirements=True
            )
        with pytest.raises(ValidationError) as caught:
            centre.core.bookings.reschedule(booked.id, centre.deep_slot.id, principal=ADMIN)
        assert problems(caught) == [("travelers[0].certificates", "certificate_missing")]
        with pytest.raises(ValidationError) as caught:
            centre.core.bookings.reschedule(booked.id, centre.course_slot.id, principal=ADMIN)
        assert problems(caught) == [("travelers[0].age", "too_young")]
        assert centre.core.bookings.get(booked.id, principal=ADMIN).slot_id == centre.fun_slot.id
        moved = centre.core.bookings.reschedule(
            booked.id, centre.course_slot.id, principal=ADMIN, override_requirements=True
        )
        assert moved.booking.slot_id == centre.course_slot.id
        trail = centre.core.bookings.audit_trail(booked.id, principal=ADMIN)
        assert any(
            "Rescheduled despite" in str(e.new_values.get("note"))
            for e in trail
            if e.action is AuditAction.NOTE_ADDED
        )

    def test_a_birthday_between_the_two_starts_counts_on_the_new_slot(self, centre: Centre) -> None:
        """Nine on a fun dive in 30 days, ten 40 days out: moved onto a course slot 40
        days out, the age on the new slot's start day applies."""
        turns_ten = centre.day + timedelta(days=5)
        booked = centre.book(
            centre.fun_slot, person("Kiran", birth_date=years_before(turns_ten, 10))
        )
        later = centre.slot(centre.course.id, days=40)
        moved = centre.core.bookings.reschedule(booked.id, later.id, principal=ADMIN)
        assert moved.booking.slot_id == later.id


HEADER = ("Customer Name", "customer_phone", "dealer_code", "booking_date", "car_variant")


class TestWaitlist:
    def test_joining_refuses_a_party_booking_would_refuse_with_the_same_fields(
        self, centre: Centre
    ) -> None:
        waitlists = centre.core.waitlists
        ten_today = person("Kiran", birth_date=years_before(centre.day, 10))
        nine = person("Meera", primary=False, birth_date=years_before(centre.day, 10, days=1))
        unknown = person("Dev", primary=False)
        with pytest.raises(ValidationError) as caught:
            waitlists.join(
                centre.course_slot.id,
                seats=3,
                travelers=[ten_today, nine, unknown],
                principal=centre.as_customer,
            )
        assert problems(caught) == [
            ("travelers[1].age", "too_young"),
            ("travelers[2].age", "age_unknown"),
        ]
        uncertified = centre.saved("Ravi Kumar")
        with pytest.raises(ValidationError) as caught:
            waitlists.join(
                centre.deep_slot.id,
                travelers=[SavedTraveler(uncertified)],
                principal=centre.as_customer,
            )
        assert problems(caught) == [("travelers[0].certificates", "certificate_missing")]
        with pytest.raises(ValidationError) as caught:
            waitlists.join(
                centre.fun_slot.id,
                seats=1,
                travelers=[person("Tara"), person("Uma", primary=False)],
                principal=centre.as_customer,
            )
        assert problems(caught) == [("travelers", "more_than_seats")]
        for slot in (centre.course_slot, centre.deep_slot, centre.fun_slot):
            assert not waitlists.list_for_slot(slot.id, principal=ADMIN)
        # Nobody was saved for the refused joins: only the traveler saved on purpose.
        saved = centre.core.travelers.list(centre.customer, principal=ADMIN)
        assert [t.id for t in saved] == [uncertified]

        entry = waitlists.join(
            centre.course_slot.id, travelers=[ten_today], principal=centre.as_customer
        )
        assert entry.customer_id == centre.customer
        # Without a party nothing is known to check: the offer's acceptance checks it.
        assert waitlists.join(centre.deep_slot.id, principal=centre.as_customer).seats == 1

    def test_staff_may_join_and_accept_past_the_requirements_customers_may_not(
        self, centre: Centre
    ) -> None:
        waitlists = centre.core.waitlists
        young = person("Meera", birth_date=years_before(centre.day, 9))
        for party in ([young], []):
            with pytest.raises(PermissionDeniedError):
                waitlists.join(
                    centre.course_slot.id,
                    travelers=party,
                    override_requirements=True,
                    principal=centre.as_customer,
                )
        entry = waitlists.join(
            centre.course_slot.id,
            customer_id=centre.customer,
            travelers=[young],
            override_requirements=True,
            principal=ADMIN,
        )
        (created,) = centre.core.audit.trail("waitlist entry", entry.id, principal=ADMIN)
        assert created.new_values["requirements_waived"] == ["travelers[0].age: too_young"]
        assert created.actor == ADMIN.actor
        # Seats are free: the entry was offered them at once; accepting checks again.
        with pytest.raises(ValidationError) as caught:
            waitlists.accept(entry.id, [young], principal=ADMIN)
        assert problems(caught) == [("travelers[0].age", "too_young")]
        with pytest.raises(PermissionDeniedError):
            waitlists.accept(
                entry.id, [young], principal=centre.as_customer, override_requirements=True
            )
        booked = waitlists.accept(entry.id, [young], principal=ADMIN, override_requirements=True)
        assert waitlists.get(entry.id, principal=ADMIN).booking_id == booked.id


class TestImports:
    def test_a_row_on_a_product_with_requirements_is_refused_with_the_same_codes(
        self, centre: Centre
    ) -> None:
        when = (centre.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d")
        rows = [
            ("Kiran Rao", "+919812300002", "REEF", when, "OW"),  # no age known: refused
            ("Tara Rao", "+919812300003", "REEF", when, "FUN"),
        ]
        job = centre.core.imports.run_file(ListSource(HEADER, rows), principal=ADMIN)
        assert job.status is ImportStatus.COMPLETED
        assert (job.created, job.failed) == (1, 1)
        (error,) = centre.core.imports.errors(job.id, principal=ADMIN)
        assert error.row_number == 2
        assert [p.code for p in error.problems] == ["age_unknown"]


def test_a_customer_found_by_details_books_under_the_same_rules(centre: Centre) -> None:
    with pytest.raises(ValidationError) as caught:
        centre.core.bookings.book(
            BookingRequest(
                centre.course_slot.id,
                [person("Meera", age=7)],
                customer=CustomerDetails("+919812300009", name="Meera's mother"),
            ),
            principal=ADMIN,
        )
    assert problems(caught) == [("travelers[0].age", "too_young")]


def test_a_booking_reads_its_travelers_certificates_in_one_query(tmp_path: Path) -> None:
    """Four saved travelers on a deep dive: their certificates come in one read, not
    one per traveler (counted on SQLite, whose statements all pass the engine's events)."""
    sql_store = sqlite_file_store(tmp_path / "reads.db")
    centre = Centre(sql_store)
    divers = [centre.saved(f"Diver {n}") for n in range(4)]
    for diver in divers:
        centre.certify(AOW, traveler=diver)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(sql_store.engine, "before_cursor_execute", count)
    try:
        booked = centre.book(
            centre.deep_slot,
            *[SavedTraveler(d, is_primary=i == 0) for i, d in enumerate(divers)],
        )
    finally:
        event.remove(sql_store.engine, "before_cursor_execute", count)
    assert len(booked.travelers) == 4
    reads = [s for s in statements if "FROM certificates" in s]
    assert len(reads) == 1, [s[:90] for s in statements]
    sql_store.dispose()


@pytest.mark.parametrize(("zone", "refused"), [("Asia/Kolkata", False), ("UTC", True)])
def test_ages_count_on_the_business_s_calendar(zone: str, refused: bool) -> None:
    """A course at 01:30 on 15 March in Kolkata starts at 20:00 on the 14th in UTC: a
    traveler turning 10 on the 15th goes on a Kolkata business's course, not on a UTC one's."""
    clock = FixedClock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    core = BookingCore(
        uow_factory=MemoryStore().unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(timezone=zone),
    )
    reef = core.catalog.add_location("REEF", "Reef", principal=ADMIN)
    course = core.catalog.add_product(
        "OW", "Open Water", "course", principal=ADMIN, requirements=ProductRequirements(min_age=10)
    )
    slot = core.catalog.create_slot(
        location_id=reef.id,
        starts_at=datetime(2027, 3, 14, 20, 0, tzinfo=UTC),
        price_per_traveler=Money("1000", "INR"),
        capacity=4,
        product_id=course.id,
        principal=ADMIN,
    )
    request = BookingRequest(
        slot.id,
        [person("Kiran", birth_date=date(2017, 3, 15))],
        customer=CustomerDetails("+919812300010"),
    )
    if refused:
        with pytest.raises(ValidationError) as caught:
            core.bookings.book(request, principal=ADMIN)
        assert problems(caught) == [("travelers[0].age", "too_young")]
    else:
        assert core.bookings.book(request, principal=ADMIN).travelers
