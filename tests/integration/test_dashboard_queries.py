"""The staff dashboard, follow-ups and round-robin lead assignment answered by the storage.

The answers are the same on memory, SQLite and PostgreSQL, and the dashboard costs the
same number of statements however many leads, quotations, suppliers and bookings there are.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from tests._sqlite import sqlite_file_store

from bookingcore import BookingCore, PageRequest, Principal, StaffId, StaffRole
from bookingcore.domain import BookingItemStatus, LeadStatus, QuotationStatus
from bookingcore.domain.bookings import Booking
from bookingcore.domain.leads import Lead
from bookingcore.domain.quotations import Quotation
from bookingcore.services import LeadRequest
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore.testing.builders import T0, Builder
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
DAY = (T0 + timedelta(days=2)).date()
_OPEN = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.LOST)


def _core(store: MemoryStore | SqlStore) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=FixedClock(T0 + timedelta(days=2)),
        ids=SequentialIds(),
    )


class _Agency:
    """``size`` suppliers, bookings waiting on them, leads and sent quotations."""

    def __init__(self, store: MemoryStore | SqlStore, size: int) -> None:
        b = Builder()
        location = b.location()
        customer = b.customer()
        traveler = b.traveler(customer.id)
        self.suppliers = [b.supplier() for _ in range(size)]
        slots = [
            b.slot(location.id, starts_at=T0 + timedelta(days=10 + n % 3, hours=n))
            for n in range(size)
        ]
        self.bookings = [
            b.booking(
                customer.id,
                slot,
                [traveler.id],
                status="cancelled" if n == 1 else "pending",
                created_at=T0 + timedelta(minutes=n),
            )
            for n, slot in enumerate(slots)
        ]
        statuses = (BookingItemStatus.PENDING, BookingItemStatus.REJECTED)
        self.items = [
            b.booking_item(booking.id, supplier_id=supplier.id, status=statuses[n % 2])
            for n, (booking, supplier) in enumerate(zip(self.bookings, self.suppliers, strict=True))
        ]
        self.items += [
            b.booking_item(self.bookings[0].id, supplier_id=supplier.id)
            for supplier in self.suppliers[1:]
        ]
        self.items.append(
            b.booking_item(
                self.bookings[-1].id,
                supplier_id=self.suppliers[0].id,
                status=BookingItemStatus.CONFIRMED,
            )
        )
        self.leads = [
            b.lead(
                customer.id,
                status=_OPEN[n % len(_OPEN)],
                follow_up_on=DAY + timedelta(days=n % 5 - 3),
                created_at=T0 + timedelta(minutes=n),
            )
            for n in range(size * 2)
        ]
        self.quotations = [
            b.quotation(
                customer.id,
                slots[0].id,
                status=(QuotationStatus.SENT, QuotationStatus.DRAFT)[n % 2 if n < 4 else 0],
                valid_until=DAY + timedelta(days=n % 3 - 1),
                created_at=T0 + timedelta(minutes=n),
            )
            for n in range(size)
        ]
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            uow.customers.add(customer)
            uow.travelers.add(traveler)
            for supplier in self.suppliers:
                uow.suppliers.add(supplier)
            for slot in slots:
                uow.slots.add(slot)
            for booking in self.bookings:
                uow.bookings.add(booking)
            for item in self.items:
                uow.booking_items.add(item)
            for lead in self.leads:
                uow.leads.add(lead)
            for quotation in self.quotations:
                uow.quotations.add(quotation)
            uow.commit()

    def due(self) -> list[Lead]:
        due = [
            lead
            for lead in self.leads
            if lead.is_open and lead.follow_up_on is not None and lead.follow_up_on <= DAY
        ]
        return sorted(due, key=lambda lead: (lead.follow_up_on or DAY, lead.created_at))

    def awaiting(self) -> list[Quotation]:
        sent = [
            q
            for q in self.quotations
            if q.status is QuotationStatus.SENT and not q.is_expired_on(DAY)
        ]
        return sorted(sent, key=lambda q: (q.created_at, q.id.bytes), reverse=True)

    def waiting(self) -> list[tuple[Booking, int]]:
        counts: dict[Any, int] = {}
        for item in self.items:
            if item.status in (BookingItemStatus.PENDING, BookingItemStatus.REJECTED):
                counts[item.booking_id] = counts.get(item.booking_id, 0) + 1
        waiting = [
            (b, counts[b.id]) for b in self.bookings if b.id in counts and b.status != "cancelled"
        ]
        return sorted(waiting, key=lambda pair: (pair[0].starts_at, pair[0].reference))


def test_the_dashboard_answers_from_the_storage(any_store: MemoryStore | SqlStore) -> None:
    agency = _Agency(any_store, 6)
    board = _core(any_store).dashboard.staff(principal=ADMIN, day=DAY)
    assert board.leads_by_status == {
        status.value: sum(1 for lead in agency.leads if lead.status is status)
        for status in LeadStatus
    }
    assert [lead.id for lead in board.follow_ups_due] == [lead.id for lead in agency.due()]
    assert len(board.follow_ups_due) == 7
    assert [q.id for q in board.quotations_awaiting_approval] == [q.id for q in agency.awaiting()]
    assert [(b.id, n) for b, n in board.bookings_waiting_for_supplier] == [
        (b.id, n) for b, n in agency.waiting()
    ]
    first = agency.bookings[0].id
    assert {b.id: n for b, n in board.bookings_waiting_for_supplier}[first] == 6


def test_the_dashboard_costs_the_same_statements_for_few_or_many_rows(tmp_path: Path) -> None:
    counts = []
    for size in (3, 15):
        store = sqlite_file_store(tmp_path / f"board-{size}.db")
        _Agency(store, size)
        core = _core(store)
        statements: list[str] = []

        def count(*args: Any, statements: list[str] = statements) -> None:
            statements.append(args[2])

        event.listen(store.engine, "before_cursor_execute", count)
        board = core.dashboard.staff(principal=ADMIN, day=DAY)
        event.remove(store.engine, "before_cursor_execute", count)
        assert len(board.bookings_waiting_for_supplier) == size - 1
        counts.append(len(statements))
        store.dispose()
    # lead counts, follow-ups, a page of quotations, departures, unpaid, waiting
    # items, their bookings (and their travelers)
    assert counts[0] == counts[1] <= 10


def test_follow_ups_due_are_scoped_to_the_advisor_and_earliest_first(
    any_store: MemoryStore | SqlStore,
) -> None:
    core = _core(any_store)
    ann = core.staff.add("ann@example.com", "Ann", principal=ADMIN)
    captured = [
        core.leads.capture(
            LeadRequest(
                source="phone",
                phone=f"+9198765432{n:02d}",
                follow_up_on=DAY + timedelta(days=1 - n),
            ),
            principal=ADMIN,
            assign=ann.id if n % 2 else None,
        )
        for n in range(4)
    ]
    due = core.leads.follow_ups_due(DAY, principal=ADMIN)
    assert [lead.id for lead in due] == [captured[3].id, captured[2].id, captured[1].id]
    advisor = Principal.staff(ann.id, StaffRole.ADVISOR)
    mine = core.leads.follow_ups_due(DAY, principal=advisor)
    assert [lead.id for lead in mine] == [captured[3].id, captured[1].id]
    core.leads.move(captured[3].id, "lost", principal=ADMIN, reason="no answer")
    assert [lead.id for lead in core.leads.follow_ups_due(DAY, principal=advisor)] == [
        captured[1].id
    ]
    assert list(core.leads.follow_ups_due(date(2000, 1, 1), principal=ADMIN)) == []
    first = core.leads.follow_ups_due(DAY, PageRequest(limit=1), principal=ADMIN)
    assert [lead.id for lead in first] == [captured[2].id]
    rest = core.leads.follow_ups_due(
        DAY, PageRequest(limit=1, cursor=first.next_cursor), principal=ADMIN
    )
    assert ([lead.id for lead in rest], rest.next_cursor) == ([captured[1].id], None)


def test_round_robin_takes_advisors_in_turn_counting_assigned_leads(
    any_store: MemoryStore | SqlStore,
) -> None:
    core = _core(any_store)
    ann = core.staff.add("ann@example.com", "Ann", principal=ADMIN)
    bob = core.staff.add("bob@example.com", "Bob", principal=ADMIN)
    core.leads.capture(LeadRequest(source="phone", phone="+919876543299"), principal=ADMIN)
    picked = [
        core.leads.capture(
            LeadRequest(source="phone", phone=f"+9198765432{n:02d}"),
            principal=ADMIN,
            assign="round_robin",
        ).assignee_id
        for n in range(4)
    ]
    assert picked[0] in (ann.id, bob.id)
    assert picked[0] != picked[1]
    assert picked[:2] == picked[2:]


def test_cancelled_departures_do_not_crowd_the_active_ones_off_the_dashboard(
    any_store: MemoryStore | SqlStore,
) -> None:
    """Departures show at most 200 active bookings: cancelled ones made later do not
    take the places of the active ones."""
    b = Builder()
    location = b.location()
    customer = b.customer()
    traveler = b.traveler(customer.id)
    slot = b.slot(location.id, starts_at=T0 + timedelta(days=2, hours=6))
    leaving = b.booking(customer.id, slot, [traveler.id], status="confirmed", created_at=T0)
    gone = [
        b.booking(
            customer.id,
            slot,
            [traveler.id],
            status="cancelled",
            created_at=T0 + timedelta(minutes=1 + n),
        )
        for n in range(201)
    ]
    with any_store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        uow.slots.add(slot)
        for booking in [leaving, *gone]:
            uow.bookings.add(booking)
        uow.commit()

    board = _core(any_store).dashboard.staff(principal=ADMIN, day=DAY)

    assert [booking.id for booking in board.departures] == [leaving.id]


def test_awaiting_payment_lists_the_bookings_departing_soonest(
    any_store: MemoryStore | SqlStore,
) -> None:
    """Awaiting payment shows the 200 unpaid bookings departing soonest from the day,
    not the 200 most recently made: unpaid bookings made later for later departures
    never push out those departing first."""
    b = Builder()
    location = b.location()
    customer = b.customer()
    traveler = b.traveler(customer.id)
    soon = b.slot(location.id, starts_at=T0 + timedelta(days=3))
    later = b.slot(location.id, starts_at=T0 + timedelta(days=30))
    before = b.slot(location.id, starts_at=T0 + timedelta(days=1))
    unpaid = ("booking_created", "payment_pending")

    def travel(slot: Any, status: str, minutes: int) -> Booking:
        return b.booking(
            customer.id,
            slot,
            [traveler.id],
            lifecycle="travel",
            status=status,
            created_at=T0 + timedelta(minutes=minutes),
        )

    departing = [travel(soon, unpaid[n % 2], n) for n in range(3)]
    crowd = [travel(later, unpaid[n % 2], 10 + n) for n in range(200)]
    paid = travel(soon, "payment_confirmed", 300)
    departed = travel(before, "payment_pending", 301)
    with any_store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        for slot in (soon, later, before):
            uow.slots.add(slot)
        for booking in [*departing, *crowd, paid, departed]:
            uow.bookings.add(booking)
        uow.commit()

    board = _core(any_store).dashboard.staff(principal=ADMIN, day=DAY)

    expected = sorted(
        [*departing, *crowd], key=lambda booking: (booking.starts_at, booking.id.bytes)
    )[:200]
    shown = sorted(expected, key=lambda booking: (booking.starts_at, booking.reference))
    assert [booking.id for booking in board.awaiting_payment] == [booking.id for booking in shown]
    assert {booking.id for booking in departing} <= {b.id for b in board.awaiting_payment}


def test_departures_leave_out_statuses_ended_in_their_own_lifecycle(
    any_store: MemoryStore | SqlStore,
) -> None:
    """On a store mixing lifecycles, a status active in one lifecycle but ended in
    another (a reservation ``completed``, while travel's ``completed`` may still be
    refunded) never takes the place of an active departure in the day's 200."""
    b = Builder()
    location = b.location()
    customer = b.customer()
    traveler = b.traveler(customer.id)
    slot = b.slot(location.id, starts_at=T0 + timedelta(days=2, hours=6))
    leaving = b.booking(
        customer.id, slot, [traveler.id], lifecycle="travel", status="completed", created_at=T0
    )
    done = [
        b.booking(
            customer.id,
            slot,
            [traveler.id],
            status="completed",
            created_at=T0 + timedelta(minutes=1 + n),
        )
        for n in range(201)
    ]
    with any_store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        uow.slots.add(slot)
        for booking in [leaving, *done]:
            uow.bookings.add(booking)
        uow.commit()

    board = _core(any_store).dashboard.staff(principal=ADMIN, day=DAY)

    assert [booking.id for booking in board.departures] == [leaving.id]


def test_archived_bookings_are_not_waiting_for_their_suppliers(
    any_store: MemoryStore | SqlStore,
) -> None:
    """An archived booking is left out of the dashboard: a travel booking ``completed``
    (archivable, though its lifecycle may still refund it) whose supplier never
    confirmed an item is not listed as waiting for that supplier."""
    b = Builder()
    location = b.location()
    customer = b.customer()
    traveler = b.traveler(customer.id)
    supplier = b.supplier()
    slot = b.slot(location.id, starts_at=T0 + timedelta(days=10))
    live, archived = (
        b.booking(customer.id, slot, [traveler.id], lifecycle="travel", status="completed")
        for _ in range(2)
    )
    archived.archived_at = T0
    items = [b.booking_item(booking.id, supplier_id=supplier.id) for booking in (live, archived)]
    with any_store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        uow.suppliers.add(supplier)
        uow.slots.add(slot)
        for booking in (live, archived):
            uow.bookings.add(booking)
        for item in items:
            uow.booking_items.add(item)
        uow.commit()

    board = _core(any_store).dashboard.staff(principal=ADMIN, day=DAY)

    assert [(booking.id, n) for booking, n in board.bookings_waiting_for_supplier] == [(live.id, 1)]
