"""A partner never reads or changes another partner's data, through any service, on any backend.

Partner A (``ours``) tries every service method on what partner B (``theirs``)
created: its customer and their traveler, its booking with the booking's
status history, documents, messages and audit trail, B's partner record, and
what only staff may see (staff, imports, audit). Every attempt is refused with
``NotFoundError`` or ``PermissionDeniedError``, or B's records are left out of
the list; and afterwards nothing of B's has changed.

A customer is one person per phone, so two partners can book for the same
person: the second partner's booking then links to the first one's customer
without revealing anything of the first partner's (their profile, saved
travelers, other bookings, messages, documents).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import uuid4

import attrs
import pytest
from tests._sqlite import sqlite_file_store

from bookingcore import (
    BookingChanges,
    BookingCore,
    BookingFilter,
    BookingRequest,
    CustomerDetails,
    CustomerFilter,
    DuplicateError,
    Money,
    NewTraveler,
    NotFoundError,
    PageRequest,
    PermissionDeniedError,
    Principal,
    SavedTraveler,
    Settings,
    SlotFilter,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking, Customer, Location, Slot, Traveler
from bookingcore.domain.audit import AuditAction
from bookingcore.services.automations import Automations
from bookingcore.services.partners import PartnerRegistration
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore.testing.builders import Builder
from bookingcore_adapters.documents import PlainRenderer
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore | SqlStore]:
    """Each backend: memory, a SQLite file, PostgreSQL."""
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        sqlite = sqlite_file_store(tmp_path / "partners.db")
        yield sqlite
        sqlite.dispose()
    else:
        yield request.getfixturevalue("pg_store")


@attrs.define
class World:
    """Two partners at one base camp, each with a customer, a traveler and a confirmed booking.

    B also has a location of its own (``b_only``) that A may not book at.
    """

    core: BookingCore
    clock: FixedClock
    camp: Location
    slot: Slot
    b_only_slot: Slot
    ours: PartnerRegistration
    theirs: PartnerRegistration
    our_customer: Customer
    our_booking: Booking
    their_customer: Customer
    their_traveler: Traveler
    their_booking: Booking

    @property
    def as_ours(self) -> Principal:
        return Principal.partner(self.ours.partner.id)

    @property
    def as_theirs(self) -> Principal:
        return Principal.partner(self.theirs.partner.id)

    def book(
        self, principal: Principal, *travelers: NewTraveler | SavedTraveler, **request: Any
    ) -> Booking:
        return self.core.bookings.book(
            BookingRequest(self.slot.id, list(travelers), **request), principal=principal
        )


@pytest.fixture
def world(store: MemoryStore | SqlStore) -> World:
    clock = FixedClock()
    core = BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
        notifier=RecordingNotifier(),
        renderer=PlainRenderer(),
        automations=Automations(documents_on={"confirmed"}, messages={"confirmed": "follow_up"}),
    )
    camp = core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
    reef = core.catalog.add_location("REEF", "House reef", principal=ADMIN)

    def slot_at(location: Location) -> Slot:
        return core.catalog.create_slot(
            location_id=location.id,
            starts_at=clock.now() + timedelta(days=10),
            price_per_traveler=Money("1000", "INR"),
            capacity=20,
            principal=ADMIN,
        )

    def partner(name: str, *locations: Location) -> PartnerRegistration:
        return core.partners.register(
            name=name,
            company_name=f"{name} Pvt Ltd",
            contact_email=f"ops@{name.lower()}.example.com",
            allowed_location_ids=[location.id for location in locations],
            webhook_url=f"https://{name.lower()}.example.com/hooks",
            principal=ADMIN,
        )

    slot, b_only_slot = slot_at(camp), slot_at(reef)
    ours, theirs = partner("Ours", camp), partner("Theirs", camp, reef)
    as_ours, as_theirs = Principal.partner(ours.partner.id), Principal.partner(theirs.partner.id)

    our_customer = core.customers.register("+919800000001", name="Olu", principal=as_ours).customer
    our_booking = core.bookings.book(
        BookingRequest(
            slot.id,
            [NewTraveler(TravelerDetails("Olu"), is_primary=True)],
            customer_id=our_customer.id,
        ),
        principal=as_ours,
    )
    their_customer = core.customers.register(
        "+919800000002", name="Tara Singh", email="tara@example.com", principal=as_theirs
    ).customer
    their_traveler = core.travelers.add(
        their_customer.id,
        TravelerDetails("Tara Singh", special_requirements="allergic to penicillin"),
        principal=as_theirs,
    )
    their_booking = core.bookings.book(
        BookingRequest(
            slot.id,
            [SavedTraveler(their_traveler.id, is_primary=True)],
            customer_id=their_customer.id,
            external_id="THEIRS-1",
        ),
        principal=as_theirs,
    )
    for booking in (our_booking, their_booking):
        core.bookings.transition(booking.id, "confirmed", principal=ADMIN)
    their_booking = core.bookings.get(their_booking.id, principal=ADMIN)
    assert core.communications.for_booking(their_booking.id, principal=ADMIN)
    assert core.bookings.documents(their_booking.id, principal=ADMIN)
    return World(
        core=core,
        clock=clock,
        camp=camp,
        slot=slot,
        b_only_slot=b_only_slot,
        ours=ours,
        theirs=theirs,
        our_customer=our_customer,
        our_booking=our_booking,
        their_customer=their_customer,
        their_traveler=their_traveler,
        their_booking=their_booking,
    )


def _attempts(w: World) -> dict[str, Callable[[], object]]:
    """Every way into B's records, as partner A."""
    core, me = w.core, w.as_ours
    booking, customer, traveler = w.their_booking, w.their_customer, w.their_traveler
    message = core.communications.for_booking(booking.id, principal=ADMIN)[0]
    them = w.theirs.partner.id
    return {
        # customers
        "customers.get": lambda: core.customers.get(customer.id, principal=me),
        "customers.history": lambda: core.customers.history(customer.id, principal=me),
        "customers.complete_profile": lambda: core.customers.complete_profile(
            customer.id, name="Intruder", principal=me
        ),
        "customers.register their phone": lambda: core.customers.register(
            customer.phone, name="Intruder", principal=me
        ),
        "customers.list their partner_id": lambda: core.customers.list(
            CustomerFilter(partner_id=them), principal=me
        ),
        # travelers
        "travelers.get": lambda: core.travelers.get(traveler.id, principal=me),
        "travelers.list": lambda: core.travelers.list(customer.id, principal=me),
        "travelers.add": lambda: core.travelers.add(
            customer.id, TravelerDetails("Intruder"), principal=me
        ),
        "travelers.update": lambda: core.travelers.update(
            traveler.id, TravelerDetails("Intruder"), principal=me
        ),
        "travelers.delete": lambda: core.travelers.delete(traveler.id, principal=me),
        # bookings
        "bookings.get": lambda: core.bookings.get(booking.id, principal=me),
        "bookings.get_by_reference": lambda: core.bookings.get_by_reference(
            booking.reference, principal=me
        ),
        "bookings.list their partner_id": lambda: core.bookings.list(
            BookingFilter(partner_id=them), principal=me
        ),
        "bookings.history": lambda: core.bookings.history(booking.id, principal=me),
        "bookings.documents": lambda: core.bookings.documents(booking.id, principal=me),
        "bookings.document": lambda: core.bookings.document(
            core.bookings.documents(booking.id, principal=ADMIN)[0].id, principal=me
        ),
        "bookings.audit_trail": lambda: core.bookings.audit_trail(booking.id, principal=me),
        "bookings.cancel": lambda: core.bookings.cancel(booking.id, principal=me),
        "bookings.transition": lambda: core.bookings.transition(
            booking.id, "completed", principal=me
        ),
        "bookings.update": lambda: core.bookings.update(
            booking.id, BookingChanges(external_id="MINE-NOW"), principal=me
        ),
        "bookings.book for their customer": lambda: w.book(
            me, NewTraveler(TravelerDetails("Intruder"), is_primary=True), customer_id=customer.id
        ),
        # communications
        "communications.for_booking": lambda: core.communications.for_booking(
            booking.id, principal=me
        ),
        "communications.for_customer": lambda: core.communications.for_customer(
            customer.id, principal=me
        ),
        "communications.get": lambda: core.communications.get(message.id, principal=me),
        "communications.send": lambda: core.communications.send(
            booking.id, "reminder", principal=me
        ),
        "communications.record_status": lambda: core.communications.record_status(
            message.id, "failed", principal=me
        ),
        # the audit trail
        **{
            f"audit.trail {entity}": partial(core.audit.trail, entity, entity_id, principal=me)
            for entity, entity_id in [
                ("booking", booking.id),
                ("customer", customer.id),
                ("traveler", traveler.id),
                ("partner", them),
            ]
        },
        # partners
        "partners.get": lambda: core.partners.get(them, principal=me),
        "partners.list": lambda: core.partners.list(principal=me),
        "partners.history": lambda: core.partners.history(them, principal=me),
        "partners.set_active": lambda: core.partners.set_active(them, False, principal=me),
        "partners.set_allowed_locations": lambda: core.partners.set_allowed_locations(
            them, [], principal=me
        ),
        "partners.set_settings": lambda: core.partners.set_settings(
            them, {"rate_limit": "1"}, principal=me
        ),
        "partners.rotate_secret": lambda: core.partners.rotate_secret(them, principal=me),
        "partners.rotate_webhook_secret": lambda: core.partners.rotate_webhook_secret(
            them, principal=me
        ),
        "partners.register": lambda: core.partners.register(
            name="Clone",
            company_name="Clone Ltd",
            contact_email="clone@example.com",
            principal=me,
        ),
        # the catalog: B's own location
        "catalog.get_slot at their location": lambda: core.catalog.get_slot(
            w.b_only_slot.id, principal=me
        ),
        # staff-only records
        "staff.list": lambda: core.staff.list(principal=me),
        "imports.list": lambda: core.imports.list(principal=me),
        "imports.get": lambda: core.imports.get(uuid4(), principal=me),
        "imports.errors": lambda: core.imports.errors(uuid4(), principal=me),
        "imports.cancel": lambda: core.imports.cancel(uuid4(), principal=me),
    }


def _snapshot(w: World) -> tuple[object, ...]:
    """Everything of B's that an attempt could have changed, as staff read it."""
    core = w.core
    booking = core.bookings.get(w.their_booking.id, principal=ADMIN)
    return (
        booking,
        core.bookings.history(booking.id, principal=ADMIN),
        core.bookings.documents(booking.id, principal=ADMIN),
        core.customers.get(w.their_customer.id, principal=ADMIN),
        core.travelers.list(w.their_customer.id, principal=ADMIN, include_deleted=True),
        core.communications.for_customer(w.their_customer.id, principal=ADMIN),
        core.partners.get(w.theirs.partner.id, principal=ADMIN),
        core.partners.history(w.theirs.partner.id, principal=ADMIN),
        core.catalog.get_slot(w.slot.id, principal=ADMIN).seats_held,
    )


def test_partner_a_is_refused_every_way_into_partner_b_records(world: World) -> None:
    before = _snapshot(world)
    reached = []
    for name, attempt in _attempts(world).items():
        try:
            result = attempt()
        except (NotFoundError, PermissionDeniedError):
            continue
        reached.append(f"{name} -> {result!r}"[:300])
    assert reached == []
    assert _snapshot(world) == before
    theirs = world.core.partners.authenticate(world.theirs.api_key, world.theirs.api_secret)
    assert theirs == world.as_theirs


def test_lists_and_lookups_leave_partner_b_records_out(world: World) -> None:
    core, me = world.core, world.as_ours
    assert [b.id for b in core.bookings.list(principal=me).items] == [world.our_booking.id]
    assert core.bookings.list(BookingFilter(text="Tara"), principal=me).items == []
    by_customer = BookingFilter(customer_id=world.their_customer.id)
    assert core.bookings.list(by_customer, principal=me).items == []
    assert [c.id for c in core.customers.list(principal=me).items] == [world.our_customer.id]
    assert core.customers.list(CustomerFilter(text="Tara"), principal=me).items == []
    assert core.customers.find_by_phone(world.their_customer.phone, principal=me) is None
    assert world.b_only_slot.id not in {s.id for s in core.catalog.list_slots(principal=me)}
    assert core.catalog.list_slots(SlotFilter(), principal=me)
    assert {loc.id for loc in core.catalog.list_locations(principal=me)} == {world.camp.id}
    due = core.communications.due_reminders(
        principal=me, within=timedelta(days=30), now=world.clock.now()
    )
    assert {b.id for b in due} <= {world.our_booking.id}
    own = core.partners.get(world.ours.partner.id, principal=me)
    assert own.id == world.ours.partner.id
    ours, theirs = world.our_booking, world.their_booking
    assert core.bookings.partner_names([ours, theirs], principal=me) == {
        world.ours.partner.id: world.ours.partner.name
    }
    assert core.bookings.partner_names([ours, theirs], principal=ADMIN) == {
        world.ours.partner.id: world.ours.partner.name,
        world.theirs.partner.id: world.theirs.partner.name,
    }
    document = core.bookings.documents(ours.id, principal=me)[0]
    assert core.bookings.document(document.id, principal=me) == document


def test_an_external_id_clash_does_not_say_which_booking_holds_it(world: World) -> None:
    with pytest.raises(DuplicateError) as caught:
        world.book(
            world.as_ours,
            NewTraveler(TravelerDetails("Olu"), is_primary=True),
            customer_id=world.our_customer.id,
            external_id="THEIRS-1",
        )
    assert caught.value.existing_id is None
    assert world.their_booking.reference not in caught.value.message
    assert str(world.their_booking.id) not in str(caught.value.to_dict())


class TestASharedCustomer:
    """Partner A books for the phone of partner B's customer (one customer per phone)."""

    def book_for_their_customer(self, world: World, *travelers: NewTraveler) -> Booking:
        return world.book(
            world.as_ours,
            *(travelers or (NewTraveler(TravelerDetails("Ravi Kumar"), is_primary=True),)),
            customer=CustomerDetails(str(world.their_customer.phone)),
        )

    def test_the_booking_links_to_the_customer_without_showing_them(self, world: World) -> None:
        core, me = world.core, world.as_ours
        booking = self.book_for_their_customer(world)
        assert booking.customer_id == world.their_customer.id
        assert booking.partner_id == world.ours.partner.id
        core.bookings.transition(booking.id, "confirmed", principal=ADMIN)
        assert core.bookings.get(booking.id, principal=me).id == booking.id
        with pytest.raises(NotFoundError):
            core.customers.get(world.their_customer.id, principal=me)
        # Messages and documents carry B's customer's name and address: A gets none.
        assert core.communications.for_booking(booking.id, principal=ADMIN)
        assert core.communications.for_booking(booking.id, principal=me) == []
        assert core.bookings.documents(booking.id, principal=ADMIN)
        assert core.bookings.documents(booking.id, principal=me) == []
        for message in core.communications.for_booking(booking.id, principal=ADMIN):
            with pytest.raises(NotFoundError):
                core.communications.get(message.id, principal=me)

    def test_partner_b_sees_none_of_partner_a_booking_of_its_customer(self, world: World) -> None:
        core, them = world.core, world.as_theirs
        booking = self.book_for_their_customer(world)
        core.bookings.transition(booking.id, "confirmed", principal=ADMIN)
        with pytest.raises(NotFoundError):
            core.bookings.get(booking.id, principal=them)
        make = Builder()
        theirs_paid, ours_paid = make.payment(world.their_booking), make.payment(booking)
        with core.context.uow_factory() as uow:
            uow.payments.add(theirs_paid)
            uow.payments.add(ours_paid)
            uow.commit()
        history = core.customers.history(world.their_customer.id, principal=them)
        assert [b.id for b in history.bookings.items] == [world.their_booking.id]
        assert {m.booking_id for m in history.communications} == {world.their_booking.id}
        assert [p.id for p in history.payments] == [theirs_paid.id]
        everything = core.customers.history(world.their_customer.id, principal=ADMIN)
        assert {p.id for p in everything.payments} == {theirs_paid.id, ours_paid.id}
        # the payments service answers the same, for each principal
        assert [
            p.id for p in core.payments.for_customer(world.their_customer.id, principal=them)
        ] == [theirs_paid.id]
        assert {
            p.id for p in core.payments.for_customer(world.their_customer.id, principal=ADMIN)
        } == {theirs_paid.id, ours_paid.id}
        with pytest.raises(NotFoundError):
            core.payments.for_customer(world.our_customer.id, principal=them)
        messages = core.communications.for_customer(world.their_customer.id, principal=them)
        assert {m.booking_id for m in messages} == {world.their_booking.id}
        for message in core.communications.for_booking(booking.id, principal=ADMIN):
            with pytest.raises(NotFoundError):
                core.communications.get(message.id, principal=them)

    def test_text_search_never_matches_what_the_partner_may_not_read(self, world: World) -> None:
        """Guessing substrings of B's customer's email, name or phone finds nothing."""
        core, me = world.core, world.as_ours
        booking = self.book_for_their_customer(world)

        def found(text: str, principal: Principal = me) -> list[object]:
            page = core.bookings.list(
                BookingFilter(text=text), principal=principal, page=PageRequest(limit=50)
            )
            return [b.id for b in page.items]

        for guess in ("tara@example.com", "t", "ara", "Tara Singh", "9800000002", "example"):
            assert booking.id not in found(guess), guess
            assert booking.id in found(guess, ADMIN), guess
        assert found(booking.reference) == [booking.id]
        assert found("Olu") == [world.our_booking.id]  # its own customer's name

    def test_their_saved_traveler_cannot_be_named(self, world: World) -> None:
        with pytest.raises(ValidationError) as caught:
            world.book(
                world.as_ours,
                SavedTraveler(world.their_traveler.id, is_primary=True),
                customer=CustomerDetails(str(world.their_customer.phone)),
            )
        assert caught.value.errors[0].code == "unknown_traveler"

    def test_a_matching_traveler_does_not_carry_their_saved_details(self, world: World) -> None:
        """Typing the name of B's saved traveler does not copy B's special requirements."""
        slot = world.core.catalog.create_slot(
            location_id=world.camp.id,
            starts_at=world.clock.now() + timedelta(days=11),
            price_per_traveler=Money("1000", "INR"),
            principal=ADMIN,
        )
        booking = world.core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails("Tara Singh"), is_primary=True)],
                customer=CustomerDetails(str(world.their_customer.phone)),
            ),
            principal=world.as_ours,
        )
        assert booking.travelers[0].special_requirements is None

    def test_a_duplicate_booking_is_refused_without_naming_it(self, world: World) -> None:
        with pytest.raises(DuplicateError) as caught:
            self.book_for_their_customer(
                world, NewTraveler(TravelerDetails("Tara Singh"), is_primary=True)
            )
        assert caught.value.existing_id is None
        assert world.their_booking.reference not in caught.value.message


def test_partner_actions_are_audited_with_the_partner_and_its_address(world: World) -> None:
    """Seed 002: every partner action (customer, booking, cancellation) leaves an entry."""
    core = world.core
    me = core.partners.authenticate(
        world.ours.api_key, world.ours.api_secret, client_ip="198.51.100.23"
    )
    customer = core.customers.register("+919800000009", name="Mira", principal=me).customer
    booking = world.book(
        me, NewTraveler(TravelerDetails("Mira"), is_primary=True), customer_id=customer.id
    )
    core.bookings.cancel(booking.id, principal=me, reason="changed plans")
    entries = [
        *core.audit.trail("customer", customer.id, principal=ADMIN),
        *core.audit.trail("booking", booking.id, principal=ADMIN),
    ]
    assert [e.action for e in entries] == [
        AuditAction.CREATED,
        AuditAction.CREATED,
        AuditAction.STATUS_CHANGED,
    ]
    assert {(e.actor, e.ip_address) for e in entries} == {(me.actor, "198.51.100.23")}
    assert entries[-1].reason == "changed plans"
