"""The customer view staff need, find-or-create by phone or email, merging, rebooking.

Each test runs on memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import event
from tests._sqlite import sqlite_file_store

from bookingcore import (
    BookingChanges,
    BookingCore,
    BookingFilter,
    BookingRequest,
    Money,
    NewTraveler,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain.certificates import Certificate, CertificateId
from bookingcore.domain.customers import Customer
from bookingcore.domain.payments import PaymentStatus
from bookingcore.domain.queries import CustomerFilter
from bookingcore.domain.values import Actor, ActorKind, CustomerId, PartnerId
from bookingcore.services import StaffNoteKind
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore.testing.builders import T0, Builder
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
NOW = T0 + timedelta(days=30)


def _core(store: MemoryStore | SqlStore) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=FixedClock(NOW),
        ids=SequentialIds(),
        notifier=RecordingNotifier(),
    )


class _World:
    """A customer with a history: past, upcoming, cancelled and no-show bookings, payments."""

    def __init__(self, store: MemoryStore | SqlStore, bookings: int = 4) -> None:
        b = self.builder = Builder()
        self.partner = b.partner()
        self.location = b.location()
        self.product = b.product()
        self.customer = b.customer(name="Asha Rao", partner_id=self.partner.id)
        self.other = b.customer(name="Someone Else")
        self.traveler = b.traveler(self.customer.id, special_requirements="vegetarian")
        past = b.slot(
            self.location.id, starts_at=T0 + timedelta(days=3), product_id=self.product.id
        )
        self.future = b.slot(
            self.location.id, starts_at=NOW + timedelta(days=5), product_id=self.product.id
        )
        self.full = b.slot(
            self.location.id,
            starts_at=NOW + timedelta(days=6),
            product_id=self.product.id,
            capacity=1,
            seats_held=1,
        )
        self.bookings = [
            b.booking(
                self.customer.id,
                past,
                [self.traveler.id],
                status="completed",
                created_at=T0 + timedelta(hours=1),
                internal_notes="asked for a window seat",
            ),
            b.booking(
                self.customer.id,
                past,
                [self.traveler.id],
                status="no_show",
                created_at=T0 + timedelta(hours=2),
            ),
            b.booking(
                self.customer.id,
                self.future,
                [self.traveler.id],
                status="cancelled",
                created_at=T0 + timedelta(hours=3),
            ),
            b.booking(
                self.customer.id,
                self.future,
                [self.traveler.id],
                status="confirmed",
                partner_id=self.partner.id,
                created_at=T0 + timedelta(hours=4),
            ),
        ]
        self.bookings += [
            b.booking(
                self.customer.id,
                self.future,
                [self.traveler.id],
                status="confirmed",
                created_at=T0 + timedelta(hours=5 + n),
            )
            for n in range(bookings - 4)
        ]
        for booking in self.bookings:
            booking.product_id = self.product.id
        paid = b.payment(self.bookings[0])
        paid.captured_amount = Money("100", "INR")
        paid.refunded_amount = Money("30", "INR")
        with store.unit_of_work() as uow:
            uow.partners.add(self.partner)
            uow.locations.add(self.location)
            uow.products.add(self.product)
            uow.customers.add(self.customer)
            uow.customers.add(self.other)
            uow.travelers.add(self.traveler)
            for slot in (past, self.future, self.full):
                uow.slots.add(slot)
            for booking in self.bookings:
                uow.bookings.add(booking)
            uow.payments.add(paid)
            uow.commit()


def test_the_view_counts_bookings_money_and_dates_in_the_storage(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = _World(any_store)
    core = _core(any_store)

    view = core.customers.view(world.customer.id, principal=ADMIN)

    stats = view.stats
    assert stats.total_bookings == 4
    assert stats.cancelled_bookings == 1
    assert stats.no_show_bookings == 1
    assert stats.upcoming_bookings == 1
    assert stats.first_booking_at == T0 + timedelta(hours=1)
    assert stats.last_booking_at == T0 + timedelta(hours=4)
    # Three bookings not cancelled at 100 INR; 100 captured less 30 refunded.
    assert stats.lifetime_value == (Money("300", "INR"),)
    assert stats.total_spent == (Money("70", "INR"),)
    assert stats.spent_in("EUR") == Money.zero("EUR")
    assert [b.id for b in view.upcoming] == [world.bookings[3].id]
    assert len(view.recent) == 4
    assert [(r.name, r.requirements) for r in view.requirements] == [
        (world.traveler.name, "vegetarian")
    ]
    assert [n.text for n in view.notes] == ["asked for a window seat"]
    assert view.notes[0].kind is StaffNoteKind.INTERNAL
    assert view.notes[0].author is None


def test_the_view_lists_advisor_notes_with_their_author_time_and_booking(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = _World(any_store)
    core = _core(any_store)
    cancelled, partners = world.bookings[2], world.bookings[3]
    first = core.bookings.add_note(cancelled.id, "Refund promised by phone", principal=ADMIN)
    second = core.bookings.add_note(partners.id, "Wants a vegetarian meal", principal=ADMIN)
    # Another customer's booking: its note stays out of Asha's view.
    someone = world.builder.traveler(world.other.id)
    stranger = world.builder.booking(world.other.id, world.future, [someone.id], created_at=NOW)
    with any_store.unit_of_work() as uow:
        uow.travelers.add(someone)
        uow.bookings.add(stranger)
        uow.commit()
    core.bookings.add_note(stranger.id, "Not about Asha", principal=ADMIN)

    view = core.customers.view(world.customer.id, principal=ADMIN)

    advisor = [n for n in view.notes if n.kind is StaffNoteKind.ADVISOR]
    assert [(n.reference, n.text, n.author, n.written_at) for n in advisor] == [
        (partners.reference, "Wants a vegetarian meal", second.author, second.written_at),
        (cancelled.reference, "Refund promised by phone", first.author, first.written_at),
    ]
    assert {n.booking_id for n in advisor} == {partners.id, cancelled.id}
    assert advisor[0].author == Actor(ActorKind.STAFF, str(ADMIN.id))
    # Newest first, internal notes (dated by their booking's last change) among them.
    times = [n.written_at for n in view.notes]
    assert times == sorted(times, reverse=True)
    assert len(view.notes) == 3
    # The partner sees its own booking, but advisor notes are for staff only; the
    # customer never sees notes from staff.
    partner = Principal.partner(world.partner.id)
    assert core.customers.view(world.customer.id, principal=partner).notes == []
    customer = Principal.customer(world.customer.id)
    assert core.customers.view(world.customer.id, principal=customer).notes == []


def test_a_partner_sees_only_its_own_customers_and_its_own_bookings_figures(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = _World(any_store)
    core = _core(any_store)
    partner = Principal.partner(world.partner.id)

    view = core.customers.view(world.customer.id, principal=partner)

    assert view.stats.total_bookings == 1
    assert view.stats.lifetime_value == (Money("100", "INR"),)
    assert view.stats.total_spent == ()
    assert view.notes == []
    with pytest.raises(NotFoundError):
        core.customers.view(world.other.id, principal=partner)
    stranger = Principal.partner(PartnerId(SequentialIds().new_id()))
    with pytest.raises(NotFoundError):
        core.customers.view(world.customer.id, principal=stranger)
    with pytest.raises(NotFoundError):
        core.customers.rebooking_suggestions(world.customer.id, principal=stranger)
    suggested = core.customers.rebooking_suggestions(world.customer.id, principal=partner)
    assert [s.slot.id for s in suggested] == [world.future.id]


def test_the_view_lists_the_payment_history_of_the_bookings_the_caller_may_see(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = _World(any_store)
    core = _core(any_store)

    staff_view = core.customers.view(world.customer.id, principal=ADMIN)
    own_view = core.customers.view(
        world.customer.id, principal=Principal.customer(world.customer.id)
    )
    partner_view = core.customers.view(
        world.customer.id, principal=Principal.partner(world.partner.id)
    )

    assert [p.booking_id for p in staff_view.payments] == [world.bookings[0].id]
    assert staff_view.payments[0].captured_amount == Money("100", "INR")
    assert [p.booking_id for p in own_view.payments] == [world.bookings[0].id]
    assert partner_view.payments == []  # paid on a booking the partner did not make


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_view_costs_no_more_queries_for_40_bookings_than_for_4(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    counts = []
    for bookings in (4, 40):
        if backend == "sqlite":
            store = sqlite_file_store(tmp_path / f"view-{bookings}.db")
        else:
            store = request.getfixturevalue("empty_pg_store")()
        world = _World(store, bookings)
        core = _core(store)
        for booking in world.bookings:
            core.bookings.add_note(booking.id, "called back", principal=ADMIN)
        statements: list[str] = []

        def count(*args: Any, statements: list[str] = statements) -> None:
            statements.append(args[2])

        event.listen(store.engine, "before_cursor_execute", count)
        view = core.customers.view(world.customer.id, principal=ADMIN)
        event.remove(store.engine, "before_cursor_execute", count)
        assert view.stats.total_bookings == bookings
        assert len([n for n in view.notes if n.kind is StaffNoteKind.ADVISOR]) == bookings
        counts.append(len(statements))
        if backend == "sqlite":
            store.dispose()
    # (BEGIN on SQLite,) customer, 2 aggregates, 2 pages of bookings + their travelers,
    # travelers, messages, certificates, payments, advisor notes. With 40 bookings the
    # newest page holds only upcoming bookings, read already with the first page: a
    # read-only unit of work does not read their travelers again.
    assert counts[1] <= counts[0] <= 13


def test_rebooking_suggests_upcoming_slots_with_room_of_products_booked_before(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = _World(any_store)
    core = _core(any_store)

    suggestions = core.customers.rebooking_suggestions(world.customer.id, principal=ADMIN)

    assert [(s.product_id, s.slot.id) for s in suggestions] == [(world.product.id, world.future.id)]
    assert core.customers.rebooking_suggestions(world.other.id, principal=ADMIN) == []


@pytest.mark.parametrize("limit", [0, -1, 501, True, 2.5])
def test_rebooking_suggestions_refuse_a_limit_that_is_not_1_to_500(
    any_store: MemoryStore | SqlStore, limit: Any
) -> None:
    world = _World(any_store)
    core = _core(any_store)

    with pytest.raises(ValidationError) as refused:
        core.customers.rebooking_suggestions(world.customer.id, principal=ADMIN, limit=limit)

    assert refused.value.errors[0].field == "limit"


def test_identify_finds_by_phone_then_by_email_and_creates_with_a_phone(
    any_store: MemoryStore | SqlStore,
) -> None:
    core = _core(any_store)
    first = core.customers.register(
        "+919812345678", principal=ADMIN, name="Asha Rao", email="asha@example.com"
    ).customer

    by_phone = core.customers.identify(principal=ADMIN, phone="+91 98123 45678")
    by_email = core.customers.identify(principal=ADMIN, email="asha@example.com")
    by_email_new_phone = core.customers.identify(
        principal=ADMIN, phone="+919800000001", email="asha@example.com"
    )
    created = core.customers.identify(
        principal=ADMIN, phone="+919800000002", email="new@example.com", name="New Person"
    )

    assert by_phone.customer.id == by_email.customer.id == by_email_new_phone.customer.id
    assert by_phone.customer.id == first.id
    assert not by_email.created
    assert created.created
    assert created.customer.email is not None
    assert created.customer.email.value == "new@example.com"
    with pytest.raises(ValidationError):
        core.customers.identify(principal=ADMIN, email="nobody@example.com")
    with pytest.raises(ValidationError):
        core.customers.identify(principal=ADMIN)


def test_merging_moves_bookings_travelers_and_history_to_the_survivor(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = _World(any_store)
    core = _core(any_store)
    survivor = world.other.id
    duplicate = world.customer.id
    signed_in = world.builder.auth_session(duplicate, lifetime=timedelta(days=60))
    with any_store.unit_of_work() as uow:
        uow.auth_sessions.add(signed_in)
        uow.commit()

    merged = core.customers.merge(survivor, duplicate, principal=ADMIN, reason="same person")

    assert merged.id == survivor
    view = core.customers.view(survivor, principal=ADMIN)
    assert view.stats.total_bookings == 4
    assert view.stats.total_spent == (Money("70", "INR"),)
    assert [t.id for t in view.travelers] == [world.traveler.id]
    with pytest.raises(NotFoundError):
        core.customers.view(duplicate, principal=ADMIN)
    with pytest.raises(NotFoundError):
        core.customers.merge(survivor, duplicate, principal=ADMIN)
    listed = core.customers.list(CustomerFilter(), principal=ADMIN).items
    assert duplicate not in {c.id for c in listed}
    # The duplicate's phone now finds the survivor.
    found = core.customers.find_by_phone(world.customer.phone, principal=ADMIN)
    assert found is not None
    assert found.id == survivor
    trail = core.audit.trail("customer", duplicate, principal=ADMIN)
    assert [e.action for e in trail][-1] == "merged"
    with any_store.unit_of_work() as uow:
        session = uow.auth_sessions.get(signed_in.id)
        assert session is not None
        assert session.revoked_at == NOW
    survivor_trail = core.audit.trail("customer", survivor, principal=ADMIN)
    assert survivor_trail[-1].new_values["bookings"] == 4
    assert survivor_trail[-1].new_values["merged_from"] == str(duplicate)


def test_merging_moves_certificates_leads_quotations_and_trips_too(
    any_store: MemoryStore | SqlStore,
) -> None:
    """Nothing of the duplicate's is left pointing at a customer no read returns."""
    world = _World(any_store)
    core = _core(any_store)
    survivor, duplicate = world.other.id, world.customer.id
    b = world.builder
    certificate = Certificate.issue(
        certificate_id=CertificateId(uuid4()),
        customer_id=duplicate,
        booking_id=world.bookings[0].id,
        traveler_id=world.traveler.id,
        kind="PADI Open Water",
        number="OW-1",
        issued_at=T0,
        now=T0,
    )
    lead = b.lead(duplicate)
    quotation = b.quotation(duplicate, world.future.id, lead_id=lead.id)
    trip = b.trip(duplicate)
    with any_store.unit_of_work() as uow:
        uow.certificates.add(certificate)
        uow.leads.add(lead)
        uow.quotations.add(quotation)
        uow.trips.add(trip)
        uow.commit()

    core.customers.merge(survivor, duplicate, principal=ADMIN, reason="same person")

    with any_store.unit_of_work() as uow:
        moved = (
            uow.certificates.get(certificate.id),
            uow.leads.get(lead.id),
            uow.quotations.get(quotation.id),
            uow.trips.get(trip.id),
        )
    assert [record.customer_id for record in moved if record is not None] == [survivor] * 4
    assert all(record.version == 2 for record in moved if record is not None)
    moved_counts = core.audit.trail("customer", survivor, principal=ADMIN)[-1].new_values
    assert {k: moved_counts[k] for k in ("certificates", "leads", "quotations", "trips")} == {
        "certificates": 1,
        "leads": 1,
        "quotations": 1,
        "trips": 1,
    }


def test_merging_moves_the_duplicates_voucher_redemptions_and_keeps_its_uses(
    any_store: MemoryStore | SqlStore,
) -> None:
    """The voucher's redemptions name the survivor, and its per-customer limit counts them."""
    world = _World(any_store)
    core = _core(any_store)
    survivor, duplicate = world.other.id, world.customer.id
    voucher = core.vouchers.create(
        code="ONCE", percent_off="10", max_uses_per_customer=1, principal=ADMIN
    )

    def book(customer_id: CustomerId, name: str) -> None:
        core.bookings.book(
            BookingRequest(
                world.future.id,
                [NewTraveler(TravelerDetails(name), is_primary=True)],
                customer_id=customer_id,
                voucher_code="ONCE",
            ),
            principal=ADMIN,
        )

    book(duplicate, "Ravi Rao")
    core.customers.merge(survivor, duplicate, principal=ADMIN, reason="same person")

    (redemption,) = core.vouchers.redemptions(voucher.id, principal=ADMIN)
    assert redemption.customer_id == survivor
    with any_store.unit_of_work() as uow:
        assert len(uow.vouchers.redemptions(voucher.id, customer_id=survivor)) == 1
        assert not uow.vouchers.redemptions(voucher.id, customer_id=duplicate)
    moved = core.audit.trail("customer", survivor, principal=ADMIN)[-1].new_values
    assert moved["voucher_redemptions"] == 1
    with pytest.raises(ValidationError) as refused:
        book(survivor, "Meera Rao")
    assert [(e.field, e.code) for e in refused.value.errors] == [
        ("voucher_code", "used_up_by_customer")
    ]


def test_only_staff_who_change_everything_merge_and_never_a_customer_into_itself(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = _World(any_store)
    core = _core(any_store)
    with pytest.raises(PermissionDeniedError):
        core.customers.merge(
            world.other.id, world.customer.id, principal=Principal.partner(world.partner.id)
        )
    with pytest.raises(ValidationError):
        core.customers.merge(world.other.id, world.other.id, principal=ADMIN)
    view = core.customers.view(world.customer.id, principal=ADMIN)
    assert view.stats.total_bookings == 4


def test_a_merge_that_fails_changes_nothing(any_store: MemoryStore | SqlStore) -> None:
    world = _World(any_store)
    core = _core(any_store)
    with pytest.raises(NotFoundError):
        core.customers.merge(
            CustomerId(SequentialIds().new_id()), world.customer.id, principal=ADMIN
        )
    with any_store.unit_of_work() as uow:
        stored = uow.customers.get(world.customer.id)
        assert isinstance(stored, Customer)
        assert stored.merged_into is None
    assert core.customers.view(world.customer.id, principal=ADMIN).stats.lifetime_value[
        0
    ].amount == Decimal("300.00")


def test_a_partner_never_gets_the_staff_notes_on_its_own_bookings(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = _World(any_store)
    core = _core(any_store)
    partners = world.bookings[3]
    core.bookings.update(
        partners.id, BookingChanges(internal_notes="owes us a favour"), principal=ADMIN
    )
    core.bookings.add_note(partners.id, "Rude on the phone", principal=ADMIN)
    partner = Principal.partner(world.partner.id)

    view = core.customers.view(world.customer.id, principal=partner)
    history = core.customers.history(world.customer.id, principal=partner)

    assert [b.id for b in view.recent] == [partners.id]
    assert view.notes == []
    for booking in (*view.recent, *view.upcoming, *history.bookings.items):
        assert booking.internal_notes is None
    assert "owes us a favour" not in repr(view)
    assert "owes us a favour" not in repr(history)
    # Staff still read both notes, and the booking still holds its internal notes.
    staff = core.customers.view(world.customer.id, principal=ADMIN)
    texts = {n.text for n in staff.notes}
    assert {"owes us a favour", "Rude on the phone"} <= texts
    assert core.bookings.get(partners.id, principal=ADMIN).internal_notes == "owes us a favour"
    staff_history = core.customers.history(world.customer.id, principal=ADMIN)
    assert "owes us a favour" in {b.internal_notes for b in staff_history.bookings.items}


def test_a_partner_reads_only_the_certificates_of_its_own_bookings_wherever_it_asks(
    any_store: MemoryStore | SqlStore,
) -> None:
    # Earned on a booking the partner did not make (of a customer it brought): the
    # view leaves it out for the partner, and so does the certificates' own read.
    world = _World(any_store)
    core = _core(any_store)
    earned = core.certificates.issue(
        world.bookings[0].id, kind="AOW", number="AOW-1", principal=ADMIN
    )
    partner = Principal.partner(world.partner.id)

    assert [c.id for c in core.certificates.for_customer(world.customer.id, principal=ADMIN)] == [
        earned.id
    ]
    own = Principal.customer(world.customer.id)
    assert [c.id for c in core.certificates.for_customer(world.customer.id, principal=own)] == [
        earned.id
    ]
    assert core.customers.view(world.customer.id, principal=partner).certificates == []
    assert core.certificates.for_customer(world.customer.id, principal=partner) == []


def test_a_partner_s_compliance_report_holds_only_the_certificates_of_its_own_bookings(
    any_store: MemoryStore | SqlStore,
) -> None:
    """The compliance report follows the rule of the customer view and ``for_customer``:
    a certificate its customer earned on another channel's booking is not the partner's."""
    world = _World(any_store)
    core = _core(any_store)
    elsewhere = core.certificates.issue(
        world.bookings[0].id, kind="AOW", number="AOW-1", principal=ADMIN
    )
    with any_store.unit_of_work() as uow:
        past = uow.slots.get(world.bookings[0].slot_id)
        assert past is not None
        theirs = world.builder.booking(
            world.customer.id,
            past,
            [world.traveler.id],
            status="completed",
            partner_id=world.partner.id,
            created_at=T0 + timedelta(hours=9),
        )
        uow.bookings.add(theirs)
        uow.commit()
    own = core.certificates.issue(theirs.id, kind="OW", number="OW-7", principal=ADMIN)
    partner = Principal.partner(world.partner.id)

    report = core.certificates.compliance_report(principal=partner)

    assert [line.certificate.id for line in report.lines] == [own.id]
    staff = core.certificates.compliance_report(principal=ADMIN)
    assert {line.certificate.id for line in staff.lines} == {elsewhere.id, own.id}


def test_a_customer_whose_bookings_add_up_past_the_largest_single_amount_has_a_view(
    any_store: MemoryStore | SqlStore,
) -> None:
    """Each booking is at most 10^12 (MAX_AMOUNT); a company's bookings over the years
    may add up to more, and the view gives the sum rather than failing on it."""
    make = Builder()
    location = make.location()
    slot = make.slot(location.id, price_per_traveler=Money("600000000000", "VND"))
    customer = make.customer()
    traveler = make.traveler(customer.id)
    with any_store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        for _ in range(2):
            booking = make.booking(customer.id, slot, [traveler.id])
            uow.bookings.add(booking)
            uow.payments.add(
                make.payment(
                    booking,
                    status=PaymentStatus.CAPTURED,
                    captured_amount=booking.total,
                )
            )
        uow.commit()

    stats = _core(any_store).customers.view(customer.id, principal=ADMIN).stats
    assert stats.value_in("VND").amount == Decimal("1200000000000")
    assert stats.spent_in("VND").amount == Decimal("1200000000000")


def test_the_view_counts_statuses_as_the_cancellation_report_does(
    any_store: MemoryStore | SqlStore,
) -> None:
    """A refunded trip is cancelled (terminal, holding no seats), as in the reports:
    counted among the cancellations, never upcoming, adding nothing to the value."""
    world = _World(any_store)
    b = world.builder
    refunded = b.booking(
        world.customer.id,
        world.future,
        [world.traveler.id],
        lifecycle="travel",
        status="refunded",
        created_at=T0 + timedelta(hours=9),
    )
    with any_store.unit_of_work() as uow:
        uow.bookings.add(refunded)
        uow.commit()
    core = _core(any_store)

    view = core.customers.view(world.customer.id, principal=ADMIN)
    (line,) = core.reports.cancellations(
        principal=ADMIN, where=BookingFilter(customer_id=world.customer.id)
    )

    stats = view.stats
    assert stats.total_bookings == line.bookings == 5
    assert stats.cancelled_bookings == line.cancelled == 2
    assert stats.no_show_bookings == line.no_shows == 1
    assert stats.upcoming_bookings == 1
    assert [booking.id for booking in view.upcoming] == [world.bookings[3].id]
    assert stats.lifetime_value == (Money("300", "INR"),)
    assert refunded.status in core.customers.statuses().cancelled.names


def test_cancelled_bookings_made_later_do_not_crowd_an_upcoming_one_off_the_view(
    any_store: MemoryStore | SqlStore,
) -> None:
    """``view.upcoming`` lists the bookings still to take place among the 20 made last:
    bookings cancelled since do not take their places, so the list agrees with
    ``stats.upcoming_bookings``."""
    world = _World(any_store)
    b = world.builder
    gone = [
        b.booking(
            world.customer.id,
            world.future,
            [world.traveler.id],
            status=("cancelled", "no_show")[n % 2],
            created_at=T0 + timedelta(days=1, minutes=n),
        )
        for n in range(20)
    ]
    with any_store.unit_of_work() as uow:
        for booking in gone:
            uow.bookings.add(booking)
        uow.commit()
    core = _core(any_store)

    view = core.customers.view(world.customer.id, principal=ADMIN)

    assert view.stats.upcoming_bookings == 1
    assert [booking.id for booking in view.upcoming] == [world.bookings[3].id]
