"""Property: a lead's quotation versions, their approval into a multi-supplier booking,
the suppliers' answers, the payments and the travel lifecycle always agree.

A stateful model drives the real services: it captures leads, quotes them with
lines from several suppliers in two currencies, revises, sends, lets time pass,
approves any revision (current or not, sent or not, valid or not), has random
supplier users confirm or reject random items, asks again, cancels items and
tries to force ``supplier_confirmed``. Money goes through ``core.payments``:
card intents for all or part of the balance (or more), the provider's signed
webhooks (captured in full or in part, failed, requires action; delivered again),
cash recorded at the desk, refunds in full or in part (settled at once, later by
webhook, failed later or declined), and staff cancel, or try to mark a booking
paid or refunded by hand (always refused: only money moves a booking there).
After every step it checks that a booking is ``supplier_confirmed``
only when every live item is confirmed, and moves on from ``payment_confirmed``
once they are; that its travel status agrees with what was paid and refunded
against its total (seats plus live items; ``refunded`` exactly when everything
taken went back); that its payments, invoices and
credit notes are the model's, keep no more than the total unless flagged for
staff (or an item was cancelled after the money came in), and never refund
more than was captured; that only the current revision of a quotation was ever approved
(once); and that the slot holds exactly the seats of the bookings in
seat-holding states.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import attrs
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from tests._sqlite import sqlite_file_store

from bookingcore import (
    BookingCore,
    BookingId,
    CapacityError,
    DuplicateError,
    InvalidTransitionError,
    Money,
    NewTraveler,
    NotFoundError,
    PaymentId,
    PaymentProviderError,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import (
    TRAVEL,
    Booking,
    BookingItemStatus,
    InvoiceKind,
    LeadId,
    PaymentStatus,
    QuotationExpiredError,
    QuotationId,
    QuotationStatus,
    QuotationSupersededError,
    RefundStatus,
    Supplier,
)
from bookingcore.domain.inbox import ReceiptStatus
from bookingcore.domain.items import items_total
from bookingcore.ports.uow import UnitOfWorkFactory
from bookingcore.services import LeadRequest, QuotationRequest, QuoteLine
from bookingcore.testing import FakePaymentProvider, FixedClock, SequentialIds
from bookingcore_adapters.exchange import FixedExchangeRates
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.payments import ManualProvider

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


#: How much of what is due (or left to refund) a payment or refund asks for;
#: ``None`` for an intent means "the balance due", which the service works out.
shares = st.sampled_from(["due", "all", "half", "cent", "more"])

#: Payment statuses an event between attempts may move (see ``Payment.decides``).
UNDECIDED = frozenset({PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.FAILED})
REFUNDABLE = frozenset({PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED})
#: Travel states a booking reaches once its payments covered its total.
PAID = frozenset({"payment_confirmed", "supplier_confirmed", "documents_generated", "completed"})
CENT = Decimal("0.01")


def _share(of: Decimal, share: str) -> Decimal | None:
    if share == "due":
        return None
    if share == "half":
        return (of / 2).quantize(CENT)
    if share == "cent":
        return CENT
    if share == "more":
        return of + 1
    return of


@attrs.define
class _Paid:
    """The model of one payment."""

    id: PaymentId
    booking_id: BookingId
    provider: str
    amount: Decimal
    reference: str
    status: PaymentStatus = PaymentStatus.PENDING
    captured: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    reserved: Decimal = Decimal(0)
    settled_refunds: int = 0
    deliveries: list[tuple[dict[str, str], bytes]] = attrs.Factory(list)


@attrs.define
class _Booked:
    """The model of one booking's money."""

    payments: list[PaymentId] = attrs.Factory(list)
    #: More was kept than the total: an item was cancelled after the money came in.
    over_paid: bool = False
    #: Captures of intents asked for before other money came in, taking more than was due.
    over_captured: set[PaymentId] = attrs.Factory(set)
    #: A capture of money the booking no longer asked for: it was cancelled or ended.
    late: set[PaymentId] = attrs.Factory(set)


class TravelFlow(RuleBasedStateMachine):
    """Leads to quotations to bookings to suppliers' answers, checked after every step."""

    def uow_factory(self) -> UnitOfWorkFactory:
        """Storage for one story: a fresh memory store."""
        return MemoryStore().unit_of_work

    @initialize()
    def setup(self) -> None:
        self.clock = FixedClock()
        self.card = FakePaymentProvider("card")
        self.payments: dict[PaymentId, _Paid] = {}
        self.booked: dict[BookingId, _Booked] = {}
        self.refunds_in_flight: dict[str, tuple[PaymentId, Decimal]] = {}
        self.refund_keys = 0
        self.core = BookingCore(
            uow_factory=self.uow_factory(),
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN"),
            exchange_rates=FixedExchangeRates({("EUR", "INR"): Decimal("90.25")}),
            payment_providers=[self.card, ManualProvider()],
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
        # ... and one booking, so that every story has money and suppliers to check.
        self.send_and_approve_the_current_revision_of(first.id)

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
            assert current.status is QuotationStatus.APPROVED
            return
        except ValidationError as exc:
            refused: tuple[str, ...] | None = exc.fields
        else:
            refused = None
        if refused is not None:
            assert refused in {("slot_id",), ("valid_until",)}
            return
        assert current.id == chosen
        assert current.status is not QuotationStatus.APPROVED
        assert revised.revision == current.revision + 1
        replaced = self.core.quotations.get(chosen, principal=self.admin)
        # An open revision is superseded; a rejected or expired one keeps its decision.
        if current.is_open:
            assert replaced.status is QuotationStatus.SUPERSEDED
        else:
            assert replaced.status is current.status
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

    @precondition(lambda self: self.quotations)
    @rule(data=st.data())
    def customer_rejects(self, data: st.DataObject) -> None:
        chosen = data.draw(st.sampled_from(self.quotations))
        quotation = self.core.quotations.get(chosen, principal=self.admin)
        customer = Principal.customer(quotation.customer_id)
        try:
            self.core.quotations.reject(chosen, principal=customer, reason="too dear")
        except NotFoundError:
            # A revision never sent is the agency's draft: its customer does not see it.
            assert not quotation.was_sent
            return
        except InvalidTransitionError:
            assert quotation.status is not QuotationStatus.SENT
            return
        assert quotation.status is QuotationStatus.SENT
        event("a quotation was rejected")

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
        self.send_and_approve_the_current_revision_of(data.draw(st.sampled_from(self.quotations)))

    def send_and_approve_the_current_revision_of(self, chosen: QuotationId) -> None:
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
        except NotFoundError:
            assert as_customer
            assert not quotation.was_sent
            return
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
        self.booked[booking.id] = _Booked()

    @precondition(lambda self: self.bookings)
    @rule(data=st.data())
    def every_supplier_confirms(self, data: st.DataObject) -> None:
        chosen = data.draw(st.sampled_from(self.bookings))
        for item in self.core.items.for_booking(chosen, principal=self.admin):
            if item.status is BookingItemStatus.PENDING and item.supplier_id is not None:
                index = [s.id for s in self.suppliers].index(item.supplier_id)
                self.core.items.confirm(item.id, principal=self._user(index))

    # ------------------------------------------------------------------ payments

    @precondition(lambda self: self.bookings)
    @rule(data=st.data(), by_hand=st.booleans())
    def staff_moves_the_payment_status(self, data: st.DataObject, by_hand: bool) -> None:
        """Staff ask for payment, or try to say a booking is paid: refused, money decides."""
        chosen = data.draw(st.sampled_from(self.bookings))
        before = self.core.bookings.get(chosen, principal=self.admin).status
        if by_hand:
            with pytest.raises(ValidationError) as refused:
                self.core.bookings.transition(chosen, "payment_confirmed", principal=self.admin)
            assert refused.value.fields == ("status",)
            assert self.core.bookings.get(chosen, principal=self.admin).status == before
            return
        try:
            self.core.bookings.transition(chosen, "payment_pending", principal=self.admin)
        except InvalidTransitionError:
            assert not TRAVEL.allows(before, "payment_pending")

    @precondition(lambda self: self.bookings)
    @rule(data=st.data(), refunded=st.booleans())
    def staff_closes_the_booking(self, data: st.DataObject, refunded: bool) -> None:
        """Staff cancel, or try to mark a booking refunded: refused, refunds decide."""
        chosen = data.draw(st.sampled_from(self.bookings))
        before = self.core.bookings.get(chosen, principal=self.admin).status
        if refunded:
            with pytest.raises(ValidationError) as refused:
                self.core.bookings.transition(chosen, "refunded", principal=self.admin)
            assert refused.value.fields == ("status",)
            assert self.core.bookings.get(chosen, principal=self.admin).status == before
            return
        try:
            self.core.bookings.cancel(chosen, principal=self.admin, reason="changed plans")
        except InvalidTransitionError:
            assert not TRAVEL.allows(before, "cancelled")

    @precondition(lambda self: self.bookings)
    @rule(data=st.data(), share=shares)
    def customer_starts_paying(self, data: st.DataObject, share: str) -> None:
        chosen = data.draw(st.sampled_from(self.bookings))
        booking = self.core.bookings.get(chosen, principal=self.admin)
        due = self._due(booking)
        amount = _share(due, share)
        customer = Principal.customer(booking.customer_id)
        key = f"pay-{len(self.payments)}-{share}"
        try:
            intent = self.core.payments.create_intent(
                chosen,
                "card",
                principal=customer,
                idempotency_key=key,
                amount=None if amount is None else Money(amount, "INR"),
            )
        except ValidationError as exc:
            refused = exc.fields
            assert refused == ("amount",)
            asked = due if amount is None else amount
            assert not 0 < asked <= due
            return
        asked = due if amount is None else amount
        assert 0 < asked <= due
        assert intent.payment.amount == Money(asked, "INR")
        assert intent.payment.status is PaymentStatus.PENDING
        assert intent.payment.provider_reference is not None
        self._add_payment(
            intent.payment.id, chosen, "card", asked, intent.payment.provider_reference
        )

    @precondition(lambda self: self._card_payments())
    @rule(
        data=st.data(),
        status=st.sampled_from(["captured", "failed", "requires_action"]),
        part=st.booleans(),
    )
    def provider_reports(self, data: st.DataObject, status: str, part: bool) -> None:
        """The card provider's signed webhook says where an intent is now."""
        payment = data.draw(st.sampled_from(self._card_payments()))
        taken = None
        if status == "captured" and part and payment.amount > CENT:
            taken = _share(payment.amount, "half")
        headers, body = self.card.webhook(
            status,
            payment.reference,
            amount=None if taken is None else Money(taken, "INR"),
        )
        payment.deliveries.append((headers, body))
        before = self.core.bookings.get(payment.booking_id, principal=self.admin)
        net_before = self._net_paid(payment.booking_id)
        receipt = self.core.payments.handle_webhook("card", headers, body)
        assert receipt.status is ReceiptStatus.APPLIED
        if payment.status not in UNDECIDED:
            return  # a late event: recorded, nothing moves back
        if status != "captured":
            payment.status = PaymentStatus(status)
            return
        payment.status = PaymentStatus.CAPTURED
        payment.captured = payment.amount if taken is None else taken
        self._captured(payment, before.status, before.total.amount - net_before)

    @precondition(lambda self: any(p.deliveries for p in self.payments.values()))
    @rule(data=st.data())
    def provider_delivers_again(self, data: st.DataObject) -> None:
        """A redelivery changes nothing: the receipt of its first delivery answers."""
        delivered = [p for p in self.payments.values() if p.deliveries]
        payment = data.draw(st.sampled_from(delivered))
        headers, body = data.draw(st.sampled_from(payment.deliveries))
        before = self.core.bookings.get(payment.booking_id, principal=self.admin)
        self.core.payments.handle_webhook("card", headers, body)
        after = self.core.bookings.get(payment.booking_id, principal=self.admin)
        assert (after.status, after.version) == (before.status, before.version)

    @precondition(lambda self: self.bookings)
    @rule(data=st.data(), share=shares)
    def desk_takes_cash(self, data: st.DataObject, share: str) -> None:
        chosen = data.draw(st.sampled_from(self.bookings))
        booking = self.core.bookings.get(chosen, principal=self.admin)
        net_before = self._net_paid(chosen)
        due = self._due(booking)
        amount = _share(due, share)
        if amount is None:
            amount = due
        reference = f"CASH-{len(self.payments)}"
        try:
            payment = self.core.payments.record_manual_payment(
                chosen, Money(amount, "INR"), principal=self.admin, reference=reference
            )
        except ValidationError as exc:
            refused = exc.fields
            assert refused == ("amount",)
            assert not 0 < amount <= due
            return
        assert 0 < amount <= due
        model = self._add_payment(payment.id, chosen, "manual", amount, reference)
        model.status = PaymentStatus.CAPTURED
        model.captured = amount
        self._captured(model, booking.status, booking.total.amount - net_before)

    @precondition(lambda self: any(p.captured for p in self.payments.values()))
    @rule(data=st.data(), share=shares, later=st.booleans(), declined=st.booleans())
    def staff_refunds(self, data: st.DataObject, share: str, later: bool, declined: bool) -> None:
        payment = data.draw(st.sampled_from([p for p in self.payments.values() if p.captured]))
        left = payment.captured - payment.refunded - payment.reserved
        amount = _share(left, share)
        if amount is None:
            amount = left
        card = payment.provider == "card"
        reaches = payment.status in REFUNDABLE and 0 < amount <= left
        declined = declined and card and reaches
        self.card.refunds_settle_later = later
        if declined:
            self.card.decline_refunds("the bank said no")
        self.refund_keys += 1
        try:
            refund = self.core.payments.refund(
                payment.id,
                Money(amount, "INR"),
                principal=self.admin,
                idempotency_key=f"refund-{self.refund_keys}",
                reason="goodwill",
            )
        except InvalidTransitionError:
            assert payment.status not in REFUNDABLE
            return
        except ValidationError as exc:
            refused = exc.fields
            assert refused == ("amount",)
            assert payment.status in REFUNDABLE
            assert not reaches
            return
        except PaymentProviderError:
            assert declined
            return
        assert reaches
        assert not declined
        if later and card:
            assert refund.status is RefundStatus.PENDING
            assert refund.provider_reference is not None
            payment.reserved += amount
            self.refunds_in_flight[refund.provider_reference] = (payment.id, amount)
            return
        assert refund.status is RefundStatus.SUCCEEDED
        self._refund_settled(payment, amount)

    @precondition(lambda self: self.refunds_in_flight)
    @rule(data=st.data(), paid_out=st.booleans())
    def provider_settles_a_refund(self, data: st.DataObject, paid_out: bool) -> None:
        reference = data.draw(st.sampled_from(sorted(self.refunds_in_flight)))
        payment_id, amount = self.refunds_in_flight.pop(reference)
        payment = self.payments[payment_id]
        status = RefundStatus.SUCCEEDED if paid_out else RefundStatus.FAILED
        headers, body = self.card.refund_webhook(reference, payment.reference, status)
        receipt = self.core.payments.handle_webhook("card", headers, body)
        assert receipt.status is ReceiptStatus.APPLIED
        payment.reserved -= amount
        if paid_out:
            self._refund_settled(payment, amount)

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
            total = self.core.bookings.get(chosen, principal=self.admin).total.amount
            if self._net_paid(chosen) > total:
                self.booked[chosen].over_paid = True
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
            if booking.status == "payment_confirmed":
                # Whichever came last, the payment or the last answer, moved it on.
                assert not (live and all(item.is_confirmed for item in live))
            assert booking.items_total == items_total(items, booking.currency)
            assert booking.total == booking.subtotal - booking.discount + booking.items_sum

    @invariant()
    def bookings_agree_with_their_payments(self) -> None:
        """A booking's payments, invoices and credit notes are the model's; so is its status."""
        for booking_id in self.bookings:
            booked = self.booked[booking_id]
            payments = self.core.payments.for_booking(booking_id, principal=self.admin)
            assert [p.id for p in payments] == booked.payments
            for payment in payments:
                model = self.payments[payment.id]
                assert payment.status is model.status
                assert payment.amount == Money(model.amount, "INR")
                assert payment.captured_amount == Money(model.captured, "INR")
                assert payment.refunded_amount == Money(model.refunded, "INR")
                assert payment.pending_refund_amount == Money(model.reserved, "INR")
                refunds = payment.refunded_amount + payment.pending_refund_amount
                assert refunds <= payment.captured_amount <= payment.amount
                flagged = booked.late | booked.over_captured
                assert payment.needs_attention() == (payment.id in flagged)
            kinds = [
                doc.kind
                for doc in self.core.payments.invoices_for(booking_id, principal=self.admin)
            ]
            models = [self.payments[p] for p in booked.payments]
            assert kinds.count(InvoiceKind.INVOICE) == sum(1 for p in models if p.captured)
            assert kinds.count(InvoiceKind.CREDIT_NOTE) == sum(p.settled_refunds for p in models)
            self._agrees_with_its_payments(self.core.bookings.get(booking_id, principal=self.admin))

    def _agrees_with_its_payments(self, booking: Booking) -> None:
        """The booking's travel status says what its payments did, against its total."""
        booked = self.booked[booking.id]
        taken = sum((self.payments[p].captured for p in booked.payments), Decimal(0))
        kept = self._net_paid(booking.id)
        total = booking.total.amount
        # Money that came in late (the booking was cancelled or ended) or took more than was
        # due is flagged for staff to give back: only then may more be kept than the total.
        if not (booked.over_paid or booked.over_captured or booked.late):
            assert kept <= total
        if booking.status == "booking_created":
            # Money taken asks for the rest: the booking waits for payment.
            assert taken == 0
        if booking.status == "payment_pending":
            # Paid in full is payment_confirmed, whichever came last.
            assert taken == 0 or kept < total
            event("a booking waits for the rest of its payment")
        if booking.status in PAID:
            assert taken >= total
            event(f"a booking paid through core.payments reached {booking.status}")
        # Refunded exactly when something was taken and all of it went back (money that
        # came in after that is late, flagged for staff).
        if booking.status == "refunded":
            assert taken > 0
            assert kept == 0 or booked.late
            event("a booking was refunded")
        elif taken > 0 and kept == 0:
            assert not TRAVEL.allows(booking.status, "refunded")
        if kept < taken:
            event("money went back")

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

    def _card_payments(self) -> list[_Paid]:
        return [p for p in self.payments.values() if p.provider == "card"]

    def _net_paid(self, booking_id: BookingId) -> Decimal:
        models = [self.payments[p] for p in self.booked[booking_id].payments]
        return sum((p.captured - p.refunded for p in models), Decimal(0))

    def _due(self, booking: Booking) -> Decimal:
        """The balance due: nothing on a booking that is cancelled or ended."""
        if not TRAVEL.is_active(booking.status):
            return Decimal(0)
        return max(booking.total.amount - self._net_paid(booking.id), Decimal(0))

    def _add_payment(
        self,
        payment_id: PaymentId,
        booking_id: BookingId,
        provider: str,
        amount: Decimal,
        reference: str,
    ) -> _Paid:
        model = _Paid(payment_id, booking_id, provider, amount, reference)
        self.payments[payment_id] = model
        self.booked[booking_id].payments.append(payment_id)
        return model

    def _captured(self, payment: _Paid, status_before: str, due_before: Decimal) -> None:
        """Money was taken while the booking was at ``status_before`` with ``due_before`` due."""
        booked = self.booked[payment.booking_id]
        if not TRAVEL.is_active(status_before):
            booked.late.add(payment.id)
            event("money arrived for a cancelled or ended booking")
        elif payment.captured > max(due_before, Decimal(0)):
            booked.over_captured.add(payment.id)
            event("an older intent took more than was due")

    @staticmethod
    def _refund_settled(payment: _Paid, amount: Decimal) -> None:
        payment.refunded += amount
        payment.settled_refunds += 1
        whole = payment.refunded == payment.captured
        payment.status = PaymentStatus.REFUNDED if whole else PaymentStatus.PARTIALLY_REFUNDED

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
        self._store = sqlite_file_store(Path(self._folder.name) / "travel.db")
        return self._store.unit_of_work

    def teardown(self) -> None:
        self._store.dispose()
        self._folder.cleanup()


# Every story is long and writes through every service: a few dozen of them cover the
# rules (each story starts from a booking), and keep the CI profile well under 30 s.
TravelFlow.TestCase.settings = settings(
    max_examples=min(20, settings().max_examples), stateful_step_count=30, deadline=None
)
test_travel_flow = TravelFlow.TestCase
TravelFlowOnSqlite.TestCase.settings = settings(
    max_examples=min(5, settings().max_examples), stateful_step_count=25, deadline=None
)
test_travel_flow_on_sqlite = TravelFlowOnSqlite.TestCase
