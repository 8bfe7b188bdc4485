"""Group bookings: one reference, bookings join it, totals add up, cancel all at once, confirm."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests._threads import at_once
from tests.integration._worlds import ADMIN, camp_slot

from bookingcore import (
    BookingCore,
    BookingId,
    BookingRequest,
    DuplicateError,
    Money,
    NewTraveler,
    NotFoundError,
    PageRequest,
    PermissionDeniedError,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import BookingGroupStatus, CommunicationType, WaitlistStatus
from bookingcore.domain.queries import BookingFilter
from bookingcore.domain.values import CustomerId
from bookingcore.services import BookedItem
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.payments import ManualProvider
from bookingcore_adapters.sql import SqlStore


class Outing:
    """A core, a slot of 10 seats, an organiser, a company and a few participants."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.clock = FixedClock()
        self.notifier = RecordingNotifier()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            notifier=self.notifier,
            payment_providers=[ManualProvider()],
        )
        self.slot = camp_slot(self.core, self.clock, code="BASE", days=10, price="1000")
        self.location_id = self.slot.location_id
        register = self.core.customers.register
        self.organizer = register(
            "+919812300001", principal=ADMIN, name="Olga Organiser", email="olga@acme.example"
        ).customer.id
        self.company = register("+919812300002", principal=ADMIN, name="Acme Ltd").customer.id
        self.participants = [
            register(f"+91981230010{i}", principal=ADMIN, name=f"P{i}").customer.id
            for i in range(3)
        ]

    def book(self, customer: CustomerId, travelers: int, **fields: object):  # type: ignore[no-untyped-def]
        return self.core.bookings.book(
            BookingRequest(
                self.slot.id,
                [
                    NewTraveler(
                        TravelerDetails(
                            f"T{i} {customer}", phone="+919899900000" if i == 0 else None
                        ),
                        is_primary=i == 0,
                    )
                    for i in range(travelers)
                ],
                customer_id=customer,
                **fields,  # type: ignore[arg-type]
            ),
            principal=ADMIN,
        )


@pytest.fixture
def outing(any_store: MemoryStore | SqlStore) -> Outing:
    return Outing(any_store)


def test_a_group_is_created_once_per_reference_and_found_by_it(outing: Outing) -> None:
    group = outing.core.groups.create(
        "acme-offsite-2026",
        organizer_id=outing.organizer,
        company_id=outing.company,
        group_name="Acme offsite",
        total_participants=6,
        principal=ADMIN,
    )
    assert group.group_reference == "ACME-OFFSITE-2026"
    found = outing.core.groups.get_by_reference("Acme-Offsite-2026", principal=ADMIN)
    assert found.id == group.id
    with pytest.raises(DuplicateError):
        outing.core.groups.create(
            "ACME-OFFSITE-2026", organizer_id=outing.organizer, principal=ADMIN
        )
    outing.core.groups.create("DIVE-WEEK", organizer_id=outing.company, principal=ADMIN)
    assert [g.id for g in outing.core.groups.list(principal=ADMIN, search="offsite").items] == [
        group.id
    ]
    mine = outing.core.groups.list(principal=Principal.customer(outing.organizer)).items
    assert [g.id for g in mine] == [group.id]
    with pytest.raises(PermissionDeniedError):
        outing.core.groups.list(
            principal=Principal.customer(outing.organizer), customer_id=outing.company
        )
    with pytest.raises(NotFoundError):
        outing.core.groups.get(group.id, principal=Principal.customer(outing.participants[0]))


def test_bookings_join_an_active_group_and_its_totals_add_up(outing: Outing) -> None:
    group = outing.core.groups.create("SCHOOL-TRIP", organizer_id=outing.organizer, principal=ADMIN)
    a = outing.book(outing.participants[0], 2, group_id=group.id)
    b = outing.book(outing.participants[1], 3, group_id=group.id)
    outing.book(outing.participants[2], 1)  # not in the group
    assert a.group_id == group.id
    assert {x.id for x in outing.core.groups.bookings(group.id, principal=ADMIN)} == {a.id, b.id}
    totals = outing.core.groups.totals(group.id, principal=ADMIN)
    assert (totals.bookings, totals.travelers) == (2, 5)
    assert totals.amount == Money("5000", "INR")
    assert totals.paid == Money("0", "INR")
    assert totals.due == Money("5000", "INR")
    with pytest.raises(PermissionDeniedError):
        outing.core.bookings.book(
            BookingRequest(
                outing.slot.id,
                [NewTraveler(TravelerDetails("Gatecrasher"), is_primary=True)],
                group_id=group.id,
            ),
            principal=Principal.customer(outing.participants[2]),
        )


def test_a_booking_in_another_currency_is_refused_on_group_id(outing: Outing) -> None:
    # A group is totalled and paid in one currency: a booking priced in another
    # is refused as it joins, not when the totals are asked for later.
    group = outing.core.groups.create("SCHOOL-TRIP", organizer_id=outing.organizer, principal=ADMIN)
    first = outing.book(outing.participants[0], 2, group_id=group.id)
    in_euros = outing.core.catalog.create_slot(
        location_id=outing.location_id,
        starts_at=outing.clock.now() + timedelta(days=12),
        price_per_traveler=Money("40", "EUR"),
        capacity=10,
        principal=ADMIN,
    )
    with pytest.raises(ValidationError) as refused:
        outing.core.bookings.book(
            BookingRequest(
                in_euros.id,
                [NewTraveler(TravelerDetails("Euro Traveler"), is_primary=True)],
                customer_id=outing.participants[1],
                group_id=group.id,
            ),
            principal=ADMIN,
        )
    assert refused.value.fields == ("group_id",)
    assert refused.value.errors[0].code == "currency_mismatch"
    assert outing.core.catalog.get_slot(in_euros.id, principal=ADMIN).seats_held == 0
    totals = outing.core.groups.totals(group.id, principal=ADMIN)
    assert (totals.bookings, totals.amount) == (1, Money("2000", "INR"))
    # Once the group's last live booking is cancelled it has no currency left to keep.
    outing.core.bookings.cancel(first.id, principal=ADMIN)
    outing.core.bookings.book(
        BookingRequest(
            in_euros.id,
            [NewTraveler(TravelerDetails("Euro Traveler"), is_primary=True)],
            customer_id=outing.participants[1],
            group_id=group.id,
        ),
        principal=ADMIN,
    )
    totals = outing.core.groups.totals(group.id, principal=ADMIN)
    assert (totals.bookings, totals.cancelled_bookings) == (1, 1)
    assert (totals.amount, totals.due) == (Money("40", "EUR"), Money("40", "EUR"))


def test_a_refunded_booking_is_not_due_in_the_group_totals(outing: Outing) -> None:
    group = outing.core.groups.create("OFFSITE", organizer_id=outing.organizer, principal=ADMIN)
    kept = outing.book(outing.participants[0], 2, group_id=group.id, lifecycle="travel")
    gone = outing.book(outing.participants[1], 1, group_id=group.id, lifecycle="travel")
    for booking in (kept, gone):
        for status in ("quotation_sent", "quotation_approved", "booking_created"):
            outing.core.bookings.transition(booking.id, status, principal=ADMIN)
    payments = outing.core.payments
    payments.record_manual_payment(kept.id, Money("500", "INR"), principal=ADMIN, reference="C1")
    cash = payments.record_manual_payment(
        gone.id, Money("1000", "INR"), principal=ADMIN, reference="C2"
    )
    payments.refund(cash.id, Money("1000", "INR"), principal=ADMIN, idempotency_key="r1")
    assert outing.core.bookings.get(gone.id, principal=ADMIN).status == "refunded"
    totals = outing.core.groups.totals(group.id, principal=ADMIN)
    assert (totals.bookings, totals.travelers, totals.cancelled_bookings) == (1, 2, 1)
    assert totals.amount == Money("2000", "INR")
    assert totals.paid == Money("500", "INR")
    assert totals.due == Money("1500", "INR")
    # Nor is a refunded booking confirmed with the group.
    sent = outing.core.groups.send_confirmations(group.id, principal=ADMIN)
    assert [(c.type, c.booking_id) for c in sent] == [
        (CommunicationType.GROUP_CONFIRMATION, None),
        (CommunicationType.CONFIRMATION, kept.id),
    ]


def test_money_paid_over_one_bookings_total_is_not_due_off_another(outing: Outing) -> None:
    # Payments belong to their booking: what one booking was paid over its (lowered)
    # total does not pay another's balance, so the group's due adds up each balance.
    group = outing.core.groups.create("OFFSITE", organizer_id=outing.organizer, principal=ADMIN)
    jeep = BookedItem(
        kind="ground_service", description="Jeep", quantity=1, unit_price=Money("500", "INR")
    )
    overpaid = outing.book(outing.participants[0], 1, group_id=group.id, items=[jeep])
    owing = outing.book(outing.participants[1], 1, group_id=group.id)
    payments = outing.core.payments
    payments.record_manual_payment(
        overpaid.id, Money("1500", "INR"), principal=ADMIN, reference="C1"
    )
    item = outing.core.items.for_booking(overpaid.id, principal=ADMIN)[0]
    outing.core.items.cancel(item.id, principal=ADMIN)  # its total is 1,000 now, 1,500 paid
    totals = outing.core.groups.totals(group.id, principal=ADMIN)
    assert totals.amount == Money("2000", "INR")
    assert totals.paid == Money("1500", "INR")
    assert totals.due == Money("1000", "INR")  # what the other booking owes
    assert owing.total == Money("1000", "INR")


def test_cancelling_a_group_cancels_every_booking_in_one_unit_of_work(outing: Outing) -> None:
    group = outing.core.groups.create("OFFSITE", organizer_id=outing.organizer, principal=ADMIN)
    booked = [outing.book(p, 3, group_id=group.id) for p in outing.participants]
    outsider = outing.book(outing.organizer, 1)
    waiting = outing.core.waitlists.join(
        outing.slot.id, principal=ADMIN, customer_id=outing.company, seats=4
    )
    cancelled = outing.core.groups.cancel(group.id, principal=ADMIN, reason="offsite called off")
    assert {b.id for b in cancelled} == {b.id for b in booked}
    for booking in booked:
        stored = outing.core.bookings.get(booking.id, principal=ADMIN)
        assert stored.status == "cancelled"
        assert stored.cancellation_reason == "offsite called off"
    assert outing.core.bookings.get(outsider.id, principal=ADMIN).status != "cancelled"
    assert outing.core.groups.get(group.id, principal=ADMIN).status is BookingGroupStatus.CANCELLED
    # The freed seats went to the waiting list in the same unit of work.
    assert outing.core.waitlists.get(waiting.id, principal=ADMIN).status is WaitlistStatus.OFFERED
    assert outing.core.catalog.get_slot(outing.slot.id, principal=ADMIN).seats_held == 5
    with pytest.raises(ValidationError):
        outing.book(outing.participants[0], 1, group_id=group.id)


def test_a_refused_group_cancellation_changes_nothing(outing: Outing) -> None:
    group = outing.core.groups.create("OFFSITE", organizer_id=outing.organizer, principal=ADMIN)
    booked = [outing.book(p, 1, group_id=group.id) for p in outing.participants]
    stranger = Principal.customer(outing.participants[0])
    with pytest.raises((PermissionDeniedError, NotFoundError)):
        outing.core.groups.cancel(group.id, principal=stranger)
    for booking in booked:
        assert outing.core.bookings.get(booking.id, principal=ADMIN).status != "cancelled"
    assert outing.core.groups.get(group.id, principal=ADMIN).status is BookingGroupStatus.ACTIVE


def test_confirmations_go_to_the_organiser_and_each_primary_contact(outing: Outing) -> None:
    group = outing.core.groups.create(
        "OFFSITE", organizer_id=outing.organizer, group_name="Acme offsite", principal=ADMIN
    )
    for participant in outing.participants[:2]:
        outing.book(participant, 2, group_id=group.id)
    sent = outing.core.groups.send_confirmations(group.id, principal=ADMIN)
    assert [c.type for c in sent] == [
        CommunicationType.GROUP_CONFIRMATION,
        CommunicationType.CONFIRMATION,
        CommunicationType.CONFIRMATION,
    ]
    assert [m.recipient for m in outing.notifier.sent] == [
        "olga@acme.example",
        "+919899900000",
        "+919899900000",
    ]
    assert "4 traveler(s)" in outing.notifier.sent[0].body
    assert all(c.status.value == "sent" for c in sent)
    logged = outing.core.communications.for_customer(outing.organizer, principal=ADMIN)
    assert [c.type for c in logged] == [CommunicationType.GROUP_CONFIRMATION]


def test_an_unknown_group_status_is_a_validation_error(outing: Outing) -> None:
    with pytest.raises(ValidationError) as bad:
        outing.core.groups.list(principal=ADMIN, status="archived")
    assert bad.value.errors[0].field == "status"


def test_a_groups_bookings_come_a_page_at_a_time_newest_first_to_whoever_sees_the_group(
    outing: Outing,
) -> None:
    group = outing.core.groups.create(
        "CLASS-OUTING", organizer_id=outing.organizer, principal=ADMIN
    )
    organisers = outing.book(outing.organizer, 2, group_id=group.id)
    outing.clock.advance(minutes=1)
    booked = []
    for n, customer in enumerate(outing.participants[:3]):
        booked.append(outing.book(customer, 1, group_id=group.id))
        outing.clock.advance(minutes=1 + n)
    outing.book(outing.organizer, 1)  # the organiser's own booking, not in the group

    def walk(principal: Principal, limit: int) -> list[BookingId]:
        seen: list[BookingId] = []
        page = outing.core.groups.bookings(group.id, PageRequest(limit=limit), principal=principal)
        while True:
            assert len(page) <= limit
            seen += [b.id for b in page]
            if page.next_cursor is None:
                return seen
            page = outing.core.groups.bookings(
                group.id, PageRequest(limit=limit, cursor=page.next_cursor), principal=principal
            )

    newest_first = [b.id for b in reversed(booked)] + [organisers.id]
    for limit in (1, 2, 3):
        assert walk(ADMIN, limit) == newest_first
    # The organiser sees the group, and of its bookings their own, not the participants'.
    for limit in (1, 2):
        assert walk(Principal.customer(outing.organizer), limit) == [organisers.id]
    stranger = outing.core.customers.register("+919812300199", principal=ADMIN, name="Sam").customer
    with pytest.raises(NotFoundError):
        outing.core.groups.bookings(group.id, principal=Principal.customer(stranger.id))
    with pytest.raises(ValidationError):
        outing.core.groups.bookings(group.id, PageRequest(cursor="nope"), principal=ADMIN)


@pytest.mark.postgres
def test_two_joins_in_two_currencies_at_once_leave_the_group_in_one(pg_store: SqlStore) -> None:
    outing = Outing(pg_store)
    group = outing.core.groups.create("OFFSITE", organizer_id=outing.organizer, principal=ADMIN)
    in_euros = outing.core.catalog.create_slot(
        location_id=outing.location_id,
        starts_at=outing.clock.now() + timedelta(days=12),
        price_per_traveler=Money("40", "EUR"),
        capacity=10,
        principal=ADMIN,
    )
    requests = [
        BookingRequest(
            slot_id,
            [NewTraveler(TravelerDetails(f"Traveler {index}"), is_primary=True)],
            customer_id=outing.participants[index],
            group_id=group.id,
        )
        for index, slot_id in enumerate([outing.slot.id, in_euros.id])
    ]
    results = at_once(2, lambda index: outing.core.bookings.book(requests[index], principal=ADMIN))
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(refused) == 1, results
    assert refused[0].fields == ("group_id",)
    booked = outing.core.groups.bookings(group.id, principal=ADMIN).items
    assert len({b.currency for b in booked}) == 1
    assert outing.core.groups.totals(group.id, principal=ADMIN).bookings == 1


# ---------------------------------------------------------------- who sees and cancels what


class Mixed:
    """A group organised by a partner's customer for a company, with three bookings:
    the organiser's own (2 travelers), one the partner made for a customer of its
    own (1), and one the desk made for another participant (3, 500 paid)."""

    def __init__(self, outing: Outing) -> None:
        core = outing.core
        self.outing = outing
        self.partner = core.partners.register(
            name="TrekMates",
            company_name="TrekMates Pvt Ltd",
            contact_email="ops@trekmates.example",
            allowed_location_ids=[outing.location_id],
            principal=ADMIN,
        ).partner
        self.as_partner = Principal.partner(self.partner.id)
        register = core.customers.register
        self.organizer_id = register(
            "+919812300301", principal=self.as_partner, name="Olga"
        ).customer.id
        brought = register("+919812300302", principal=self.as_partner, name="Pia").customer.id
        self.group = core.groups.create(
            "MIXED-OFFSITE",
            organizer_id=self.organizer_id,
            company_id=outing.company,
            principal=ADMIN,
        )
        self.organizer = Principal.customer(self.organizer_id)
        self.company = Principal.customer(outing.company)
        self.participant = Principal.customer(outing.participants[1])
        self.own = self.book(self.organizer, None, 2)
        self.partners = self.book(self.as_partner, brought, 1)
        self.desks = self.book(ADMIN, outing.participants[1], 3)
        core.payments.record_manual_payment(
            self.desks.id, Money("500", "INR"), principal=ADMIN, reference="C1"
        )

    def book(self, who: Principal, customer: CustomerId | None, travelers: int):  # type: ignore[no-untyped-def]
        return self.outing.core.bookings.book(
            BookingRequest(
                self.outing.slot.id,
                [
                    NewTraveler(TravelerDetails(f"T{i} {travelers}"), is_primary=i == 0)
                    for i in range(travelers)
                ],
                customer_id=customer,
                group_id=self.group.id,
            ),
            principal=who,
        )

    def seen(self, who: Principal) -> set[BookingId]:
        return {b.id for b in self.outing.core.groups.bookings(self.group.id, principal=who)}

    def statuses(self) -> list[str]:
        get = self.outing.core.bookings.get
        return [get(b.id, principal=ADMIN).status for b in (self.own, self.partners, self.desks)]


@pytest.fixture
def mixed(outing: Outing) -> Mixed:
    return Mixed(outing)


def test_a_groups_bookings_and_totals_cover_only_the_bookings_each_principal_may_see(
    mixed: Mixed,
) -> None:
    groups = mixed.outing.core.groups
    everyone = {mixed.own.id, mixed.partners.id, mixed.desks.id}
    editor = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.EDITOR)
    for staff in (ADMIN, editor):
        assert mixed.seen(staff) == everyone
        totals = groups.totals(mixed.group.id, principal=staff)
        assert (totals.bookings, totals.travelers) == (3, 6)
        assert (totals.amount, totals.paid, totals.due) == (
            Money("6000", "INR"),
            Money("500", "INR"),
            Money("5500", "INR"),
        )
    # The organiser sees the group, but of its bookings only their own.
    assert mixed.seen(mixed.organizer) == {mixed.own.id}
    mine = groups.totals(mixed.group.id, principal=mixed.organizer)
    assert (mine.bookings, mine.travelers, mine.cancelled_bookings) == (1, 2, 0)
    assert (mine.amount, mine.paid, mine.due) == (
        Money("2000", "INR"),
        Money("0", "INR"),
        Money("2000", "INR"),
    )
    # The partner: the bookings it made, not the organiser's nor the desk's.
    assert mixed.seen(mixed.as_partner) == {mixed.partners.id}
    theirs = groups.totals(mixed.group.id, principal=mixed.as_partner)
    assert (theirs.bookings, theirs.travelers, theirs.amount) == (1, 1, Money("1000", "INR"))
    # The company's contact sees the group and no booking in it.
    assert groups.get(mixed.group.id, principal=mixed.company).id == mixed.group.id
    assert mixed.seen(mixed.company) == set()
    none = groups.totals(mixed.group.id, principal=mixed.company)
    assert (none.bookings, none.travelers, none.amount, none.paid, none.due) == (
        0,
        0,
        None,
        None,
        None,
    )
    # A participant finds their own booking among their bookings, not the group.
    participant = mixed.participant
    for call in (groups.get, groups.bookings, groups.totals):
        with pytest.raises(NotFoundError):
            call(mixed.group.id, principal=participant)  # type: ignore[operator]
    listed = mixed.outing.core.bookings.list(
        BookingFilter(group_id=mixed.group.id), principal=participant
    )
    assert [b.id for b in listed.items] == [mixed.desks.id]
    # Advisors and suppliers' users do not see groups.
    for role in (StaffRole.ADVISOR, StaffRole.SUPPLIER):
        with pytest.raises(NotFoundError):
            groups.bookings(
                mixed.group.id, principal=Principal.staff(StaffId(SequentialIds().new_id()), role)
            )


def test_only_who_may_cancel_every_open_booking_in_a_group_cancels_it(mixed: Mixed) -> None:
    groups = mixed.outing.core.groups
    hidden = (mixed.partners, mixed.desks)
    for who in (mixed.organizer, mixed.as_partner):
        with pytest.raises(PermissionDeniedError) as refused:
            groups.cancel(mixed.group.id, principal=who)
        # The refusal names no booking the caller may not see.
        for booking in hidden:
            assert booking.reference not in str(refused.value)
            assert str(booking.id) not in str(refused.value)
    editor = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.EDITOR)
    for who in (mixed.company, editor):
        with pytest.raises(PermissionDeniedError):
            groups.cancel(mixed.group.id, principal=who)
    with pytest.raises(NotFoundError):
        groups.cancel(mixed.group.id, principal=mixed.participant)
    assert mixed.statuses() == ["pending", "pending", "pending"]
    assert groups.get(mixed.group.id, principal=ADMIN).status is BookingGroupStatus.ACTIVE

    # Once every other booking is closed, the organiser calls the group off.
    for booking in hidden:
        mixed.outing.core.bookings.cancel(booking.id, principal=ADMIN)
    cancelled = groups.cancel(mixed.group.id, principal=mixed.organizer, reason="called off")
    assert [b.id for b in cancelled] == [mixed.own.id]
    assert groups.get(mixed.group.id, principal=ADMIN).status is BookingGroupStatus.CANCELLED


def test_a_partner_cancels_a_group_whose_open_bookings_are_all_its_own(mixed: Mixed) -> None:
    for booking in (mixed.own, mixed.desks):
        mixed.outing.core.bookings.cancel(booking.id, principal=ADMIN)

    cancelled = mixed.outing.core.groups.cancel(mixed.group.id, principal=mixed.as_partner)

    assert [b.id for b in cancelled] == [mixed.partners.id]
    assert mixed.statuses() == ["cancelled", "cancelled", "cancelled"]


@pytest.mark.parametrize("survivor", ["organizer", "company"])
def test_merging_a_groups_organiser_and_company_leaves_it_readable_without_a_company(
    outing: Outing, survivor: str
) -> None:
    # Found to be one person: the group keeps the survivor as organiser and no
    # company profile (a group's company and organiser are different customers).
    group = outing.core.groups.create(
        "ACME", organizer_id=outing.organizer, company_id=outing.company, principal=ADMIN
    )
    kept, gone = (
        (outing.organizer, outing.company)
        if survivor == "organizer"
        else (outing.company, outing.organizer)
    )
    outing.core.customers.merge(kept, gone, principal=ADMIN)
    found = outing.core.groups.get(group.id, principal=ADMIN)
    assert (found.organizer_id, found.company_id) == (kept, None)
    listed = outing.core.groups.list(principal=ADMIN, customer_id=kept).items
    assert [g.id for g in listed] == [group.id]


def test_a_groups_archived_bookings_keep_its_currency(outing: Outing) -> None:
    # A booking that is over, paid and archived still counts in the group's totals,
    # so its currency stays the group's: one in another currency may not join.
    group = outing.core.groups.create("SCHOOL-TRIP", organizer_id=outing.organizer, principal=ADMIN)
    first = outing.book(outing.participants[0], 1, group_id=group.id)
    outing.core.payments.record_manual_payment(
        first.id, Money("1000", "INR"), principal=ADMIN, reference="C1"
    )
    outing.clock.advance(days=11)
    outing.core.bookings.transition(first.id, "completed", principal=ADMIN)
    run = outing.core.archive.archive_due(principal=ADMIN, ended_before=outing.clock.now())
    assert run.archived == 1
    in_euros = outing.core.catalog.create_slot(
        location_id=outing.location_id,
        starts_at=outing.clock.now() + timedelta(days=12),
        price_per_traveler=Money("40", "EUR"),
        capacity=10,
        principal=ADMIN,
    )
    with pytest.raises(ValidationError) as refused:
        outing.core.bookings.book(
            BookingRequest(
                in_euros.id,
                [NewTraveler(TravelerDetails("Euro Traveler"), is_primary=True)],
                customer_id=outing.participants[1],
                group_id=group.id,
            ),
            principal=ADMIN,
        )
    assert refused.value.errors[0].code == "currency_mismatch"
    totals = outing.core.groups.totals(group.id, principal=ADMIN)
    assert (totals.bookings, totals.amount, totals.due) == (
        1,
        Money("1000", "INR"),
        Money("0", "INR"),
    )
