"""Property: a lead's quotation versions, their approval into a multi-supplier booking,
the suppliers' answers and the travel lifecycle always agree.

A stateful model drives the real services over the memory store: it captures
leads, quotes them with lines from several suppliers in two currencies, revises,
sends, lets time pass, approves any revision (current or not, sent or not,
valid or not), pays, has random supplier users confirm or reject random items,
asks again, cancels items and tries to force ``supplier_confirmed``. After every
step it checks that a booking is ``supplier_confirmed`` only when every live
item is confirmed, that its total is its seats plus its live items, that only
the current revision of a quotation was ever approved (once), and that the
slot holds exactly the seats of the bookings in seat-holding states.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import attrs
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bookingcore import (
    BookingCore,
    BookingId,
    CapacityError,
    DuplicateError,
    InvalidTransitionError,
    Money,
    NewTraveler,
    NotFoundError,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import (
    TRAVEL,
    BookingItemStatus,
    LeadId,
    QuotationExpiredError,
    QuotationId,
    QuotationStatus,
    QuotationSupersededError,
    Supplier,
)
from bookingcore.domain.items import items_total
from bookingcore.ports.uow import UnitOfWorkFactory
from bookingcore.services import LeadRequest, QuotationRequest, QuoteLine
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.exchange import FixedExchangeRates
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

NAMES = ("Asha Rao", "Ravi Rao", "Mira Shah", "Kiran Das")


@attrs.frozen
class _LineSpec:
    supplier: int
    currency: str
    quantity: int
    amount: int


line_specs = st.lists(
    st.builds(
        _LineSpec,
        supplier=st.integers(0, 2),
        currency=st.sampled_from(["INR", "EUR"]),
        quantity=st.integers(1, 3),
        amount=st.integers(0, 500),
    ),
    max_size=3,
)


class TravelFlow(RuleBasedStateMachine):
    """Leads to quotations to bookings to suppliers' answers, checked after every step."""

    def uow_factory(self) -> UnitOfWorkFactory:
        """Storage for one story: a fresh memory store."""
        return MemoryStore().unit_of_work

    @initialize()
    def setup(self) -> None:
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=self.uow_factory(),
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN"),
            exchange_rates=FixedExchangeRates({("EUR", "INR"): Decimal("90.25")}),
        )
        self.admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
        location = self.core.catalog.add_location("LEH", "Leh", principal=self.admin)
        self.slot = self.core.catalog.create_slot(
            location_id=location.id,
            starts_at=self.clock.now() + timedelta(days=60),
            price_per_traveler=Money("1000", "INR"),
            capacity=6,
            principal=self.admin,
        )
        self.suppliers: list[Supplier] = [
            self.core.catalog.add_supplier(f"SUP{n}", f"Supplier {n}", principal=self.admin)
            for n in range(3)
        ]
        self.leads: list[LeadId] = []
        self.quotations: list[QuotationId] = []
        self.bookings: list[BookingId] = []
        self.approved: set[str] = set()
        # One quoted lead from the start, so that most stories reach a booking.
        self.capture(0)
        lead = self.core.leads.get(self.leads[0], principal=self.admin)
        first = self.core.quotations.create(
            QuotationRequest(
                customer_id=lead.customer_id,
                slot_id=self.slot.id,
                travelers=2,
                lines=self._lines([_LineSpec(0, "EUR", 2, 80), _LineSpec(1, "INR", 1, 2500)]),
                valid_until=self.clock.now().date() + timedelta(days=5),
                lead_id=lead.id,
            ),
            principal=self.admin,
        )
        self.quotations.append(first.id)

    def _user(self, index: int) -> Principal:
        supplier = self.suppliers[index]
        return Principal.staff(StaffId(uuid4()), StaffRole.SUPPLIER, supplier_id=supplier.id)

    # ------------------------------------------------------------------ rules

    @rule(phone=st.integers(0, 3))
    def capture(self, phone: int) -> None:
        lead = self.core.leads.capture(
            LeadRequest(source="web_form", phone=f"+91987654321{phone}"),
            principal=Principal.system("web"),
        )
        self.leads.append(lead.id)

    @precondition(lambda self: self.leads)
    @rule(data=st.data(), lines=line_specs, travelers=st.integers(1, 3))
    def quote(self, data: st.DataObject, lines: list[_LineSpec], travelers: int) -> None:
        lead = self.core.leads.get(data.draw(st.sampled_from(self.leads)), principal=self.admin)
        try:
            quotation = self.core.quotations.create(
                QuotationRequest(
                    customer_id=lead.customer_id,
                    slot_id=self.slot.id,
                    travelers=travelers,
                    lines=self._lines(lines),
                    valid_until=self.clock.now().date() + timedelta(days=5),
                    lead_id=lead.id,
                ),
                principal=self.admin,
            )
        except InvalidTransitionError:
            assert lead.status.value in {"won", "lost"}
            return
        self.quotations.append(quotation.id)

    @precondition(lambda self: self.quotations)
    @rule(data=st.data(), lines=line_specs)
    def revise(self, data: st.DataObject, lines: list[_LineSpec]) -> None:
        chosen = data.draw(st.sampled_from(self.quotations))
        before = self.core.quotations.get(chosen, principal=self.admin)
        current = self.core.quotations.revisions(before.reference, principal=self.admin)[-1]
        try:
            revised = self.core.quotations.revise(
                chosen, lines=self._lines(lines), principal=self.admin
            )
        except QuotationSupersededError:
            assert current.id != chosen
            return
        except InvalidTransitionError:
            assert not current.is_open
            return
        except ValidationError as exc:
            refused: tuple[str, ...] | None = exc.fields
        else:
            refused = None
        if refused is not None:
            assert refused in {("slot_id",), ("valid_until",)}
            return
        assert current.id == chosen
        assert current.is_open
        assert revised.revision == current.revision + 1
        self.quotations.append(revised.id)

    @precondition(lambda self: self.quotations)
    @rule(data=st.data())
    def send(self, data: st.DataObject) -> None:
        chosen = data.draw(st.sampled_from(self.quotations))
        try:
            self.core.quotations.send(chosen, principal=self.admin)
        except (InvalidTransitionError, QuotationExpiredError):
            quotation = self.core.quotations.get(chosen, principal=self.admin)
            assert not quotation.is_open or quotation.is_expired_on(self.clock.now().date())

    @rule(days=st.integers(1, 4))
    def time_passes(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    @precondition(lambda self: self.quotations)
    @rule(data=st.data(), as_customer=st.booleans())
    def approve(self, data: st.DataObject, as_customer: bool) -> None:
        self.approve_revision(data.draw(st.sampled_from(self.quotations)), as_customer=as_customer)

    @precondition(lambda self: self.quotations)
    @rule(data=st.data())
    def send_and_approve_the_current_revision(self, data: st.DataObject) -> None:
        """The common way through, so that long stories reach the suppliers often."""
        chosen = data.draw(st.sampled_from(self.quotations))
        reference = self.core.quotations.get(chosen, principal=self.admin).reference
        current = self.core.quotations.revisions(reference, principal=self.admin)[-1]
        if current.status is QuotationStatus.DRAFT and not current.is_expired_on(
            self.clock.now().date()
        ):
            self.core.quotations.send(current.id, principal=self.admin)
        self.approve_revision(current.id, as_customer=True)

    def approve_revision(self, chosen: QuotationId, *, as_customer: bool) -> None:
        quotation = self.core.quotations.get(chosen, principal=self.admin)
        current = self.core.quotations.revisions(quotation.reference, principal=self.admin)[-1]
        principal = Principal.customer(quotation.customer_id) if as_customer else self.admin
        party = [
            NewTraveler(TravelerDetails(name), is_primary=index == 0)
            for index, name in enumerate(NAMES[: quotation.travelers])
        ]
        expired = quotation.is_expired_on(self.clock.now().date())
        try:
            booking = self.core.quotations.approve(chosen, party, principal=principal)
        except QuotationSupersededError:
            assert current.id != chosen or quotation.status is QuotationStatus.SUPERSEDED
            return
        except QuotationExpiredError:
            assert expired or quotation.status is QuotationStatus.EXPIRED
            return
        except InvalidTransitionError:
            assert quotation.status is not QuotationStatus.SENT
            return
        except (CapacityError, DuplicateError, ValidationError):
            # A full slot, a started slot, or the customer's same party on this slot
            # already: nothing is written (the invariants check the seats).
            return
        assert current.id == chosen
        assert quotation.status is QuotationStatus.SENT
        assert not expired
        assert quotation.reference not in self.approved
        self.approved.add(quotation.reference)
        event("a quotation was approved into a booking")
        assert booking.status == "booking_created"
        assert booking.total == quotation.total
        self.bookings.append(booking.id)

    @precondition(lambda self: self.bookings)
    @rule(data=st.data())
    def every_supplier_confirms(self, data: st.DataObject) -> None:
        chosen = data.draw(st.sampled_from(self.bookings))
        for item in self.core.items.for_booking(chosen, principal=self.admin):
            if item.status is BookingItemStatus.PENDING and item.supplier_id is not None:
                index = [s.id for s in self.suppliers].index(item.supplier_id)
                self.core.items.confirm(item.id, principal=self._user(index))

    @precondition(lambda self: self.bookings)
    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        chosen = data.draw(st.sampled_from(self.bookings))
        booking = self.core.bookings.get(chosen, principal=self.admin)
        following = {"booking_created": "payment_pending", "payment_pending": "payment_confirmed"}
        if booking.status in following:
            self.core.bookings.transition(chosen, following[booking.status], principal=self.admin)

    @precondition(lambda self: self.bookings)
    @rule(data=st.data(), supplier=st.integers(0, 2), confirm=st.booleans())
    def supplier_answers(self, data: st.DataObject, supplier: int, confirm: bool) -> None:
        chosen = data.draw(st.sampled_from(self.bookings))
        items = self.core.items.for_booking(chosen, principal=self.admin)
        if not items:
            return
        item = data.draw(st.sampled_from(list(items)))
        user = self._user(supplier)
        own = item.supplier_id == self.suppliers[supplier].id
        try:
            if confirm:
                self.core.items.confirm(item.id, principal=user, supplier_reference="REF")
            else:
                self.core.items.reject(item.id, "fully booked", principal=user)
        except NotFoundError:
            assert not own
            return
        except InvalidTransitionError:
            assert own
            assert item.status is not BookingItemStatus.PENDING
            return
        assert own
        assert item.status is BookingItemStatus.PENDING
        visible = self.core.items.for_supplier(principal=user)
        assert all(i.supplier_id == self.suppliers[supplier].id for i in visible)

    @precondition(lambda self: self.bookings)
    @rule(data=st.data(), cancel=st.booleans())
    def staff_handles_an_item(self, data: st.DataObject, cancel: bool) -> None:
        chosen = data.draw(st.sampled_from(self.bookings))
        items = self.core.items.for_booking(chosen, principal=self.admin)
        if not items:
            return
        item = data.draw(st.sampled_from(list(items)))
        try:
            if cancel:
                self.core.items.cancel(item.id, principal=self.admin)
            else:
                self.core.items.request_again(item.id, principal=self.admin)
        except InvalidTransitionError:
            if cancel:
                assert item.status is BookingItemStatus.CANCELLED
            else:
                assert item.status is not BookingItemStatus.REJECTED
            return
        if cancel:
            assert item.status is not BookingItemStatus.CANCELLED
        else:
            assert item.status is BookingItemStatus.REJECTED

    @precondition(lambda self: self.bookings)
    @rule(data=st.data())
    def force_supplier_confirmed(self, data: st.DataObject) -> None:
        chosen = data.draw(st.sampled_from(self.bookings))
        items = self.core.items.for_booking(chosen, principal=self.admin)
        waiting = [i for i in items if not i.is_confirmed and not i.is_cancelled]
        try:
            self.core.bookings.transition(chosen, "supplier_confirmed", principal=self.admin)
        except InvalidTransitionError:
            return
        except ValidationError as exc:
            refused: tuple[str, ...] | None = exc.fields
        else:
            refused = None
        if refused is None:
            assert not waiting
        else:
            assert waiting
            assert refused == ("to",)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def bookings_agree_with_their_items(self) -> None:
        for booking_id in self.bookings:
            booking = self.core.bookings.get(booking_id, principal=self.admin)
            items = self.core.items.for_booking(booking_id, principal=self.admin)
            live = [item for item in items if not item.is_cancelled]
            if booking.status == "supplier_confirmed":
                assert all(item.is_confirmed for item in live)
                event("a booking reached supplier_confirmed")
            assert booking.items_total == items_total(items, booking.currency)
            assert booking.total == booking.subtotal - booking.discount + booking.items_sum

    @invariant()
    def only_the_current_revision_is_ever_approved(self) -> None:
        references = {
            self.core.quotations.get(q, principal=self.admin).reference for q in self.quotations
        }
        for reference in references:
            revisions = self.core.quotations.revisions(reference, principal=self.admin)
            assert [q.revision for q in revisions] == list(range(1, len(revisions) + 1))
            assert all(q.status is QuotationStatus.SUPERSEDED for q in revisions[:-1])
            assert revisions[-1].status is not QuotationStatus.SUPERSEDED
            approved = [q for q in revisions if q.status is QuotationStatus.APPROVED]
            assert len(approved) <= 1
            assert all(q.booking_id is not None for q in approved)

    @invariant()
    def the_slot_holds_the_seats_of_held_bookings(self) -> None:
        held = 0
        for booking_id in self.bookings:
            booking = self.core.bookings.get(booking_id, principal=self.admin)
            if TRAVEL.holds_capacity(booking.status):
                held += booking.total_travelers
        slot = self.core.catalog.get_slot(self.slot.id, principal=self.admin)
        assert slot.seats_held == held

    # ------------------------------------------------------------------ helpers

    def _lines(self, specs: list[_LineSpec]) -> list[QuoteLine]:
        return [
            QuoteLine(
                kind="hotel" if spec.currency == "EUR" else "ground_service",
                description=f"Service {index}",
                quantity=spec.quantity,
                unit_price=Money(Decimal(spec.amount), spec.currency),
                supplier_id=self.suppliers[spec.supplier].id,
            )
            for index, spec in enumerate(specs)
        ]


class TravelFlowOnSqlite(TravelFlow):
    """The same stories on a fresh SQLite file each."""

    def uow_factory(self) -> UnitOfWorkFactory:
        self._folder = tempfile.TemporaryDirectory()
        self._store = SqlStore(f"sqlite:///{Path(self._folder.name) / 'travel.db'}")
        self._store.create_schema()
        return self._store.unit_of_work

    def teardown(self) -> None:
        self._store.dispose()
        self._folder.cleanup()


TravelFlow.TestCase.settings = settings(stateful_step_count=40, deadline=None)
test_travel_flow = TravelFlow.TestCase
TravelFlowOnSqlite.TestCase.settings = settings(
    max_examples=max(5, settings().max_examples // 4), stateful_step_count=30, deadline=None
)
test_travel_flow_on_sqlite = TravelFlowOnSqlite.TestCase
