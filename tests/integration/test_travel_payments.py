"""A travel booking's status agrees with its payments, on every backend.

Regressions found by the stateful travel test (``tests/property/test_travel_flow.py``):
money taken at ``booking_created`` left the booking there (and a later
``payment_pending`` stuck, paid in full); a cancelled item that made the paid
amount cover the total left the booking at ``payment_pending``; the desk could
record more cash than was due, and intents and cash were taken for cancelled
bookings; a second intent captured for one balance was kept silently; money
captured for a ``refunded`` booking was not flagged as late; cancelling the last
live item of a paid booking moved it to ``supplier_confirmed``, when a payment
arriving after that cancellation did not.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest

import bookingcore.services.payments as payments_module
from bookingcore import (
    BookingCore,
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
from bookingcore.domain import Booking, DocumentKind, PaymentStatus, ReceiptStatus
from bookingcore.domain.partner_webhooks import PAYMENT_METADATA_KEY
from bookingcore.services import QuotationRequest, QuoteLine, TravelDocumentService
from bookingcore.testing import FakePaymentProvider, FixedClock, SequentialIds
from bookingcore_adapters.documents import PlainRenderer
from bookingcore_adapters.exchange import FixedExchangeRates
from bookingcore_adapters.filestore import FileSystemDocumentStore
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.payments import ManualProvider
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


class Holiday:
    """One traveler's seat (10,000 INR) and a hotel line of 5,000 INR, approved into a booking."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        clock = FixedClock()
        self.card = FakePaymentProvider("card")
        self.core = core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN"),
            exchange_rates=FixedExchangeRates({("EUR", "INR"): Decimal("90")}),
            payment_providers=[self.card, ManualProvider()],
        )
        location = core.catalog.add_location("LEH", "Leh", principal=ADMIN)
        slot = core.catalog.create_slot(
            location_id=location.id,
            starts_at=clock.now() + timedelta(days=20),
            price_per_traveler=Money("10000", "INR"),
            capacity=10,
            principal=ADMIN,
        )
        hotel = core.catalog.add_supplier("HOTEL", "Hotel", principal=ADMIN)
        customer = core.customers.register("+919876543210", principal=ADMIN).customer
        self.customer = Principal.customer(customer.id)
        quotation = core.quotations.create(
            QuotationRequest(
                customer_id=customer.id,
                slot_id=slot.id,
                travelers=1,
                lines=[
                    QuoteLine(
                        kind="hotel",
                        description="Two nights",
                        quantity=1,
                        unit_price=Money("5000", "INR"),
                        supplier_id=hotel.id,
                    )
                ],
                valid_until=clock.now().date() + timedelta(days=5),
            ),
            principal=ADMIN,
        )
        core.quotations.send(quotation.id, principal=ADMIN)
        party = [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)]
        self.booking: Booking = core.quotations.approve(quotation.id, party, principal=ADMIN)
        assert self.booking.total == Money("15000", "INR")

    def status(self) -> str:
        return self.core.bookings.get(self.booking.id, principal=ADMIN).status

    def statuses(self) -> list[str]:
        return [e.to_status for e in self.core.bookings.history(self.booking.id, principal=ADMIN)]

    def intent(self, amount: str | None = None, key: str = "pay-1") -> str:
        """A card intent (the balance due by default); its provider reference."""
        intent = self.core.payments.create_intent(
            self.booking.id,
            "card",
            principal=self.customer,
            idempotency_key=key,
            amount=None if amount is None else Money(amount, "INR"),
        )
        assert intent.payment.provider_reference is not None
        return intent.payment.provider_reference

    def captured(self, reference: str) -> None:
        self.core.payments.handle_webhook("card", *self.card.webhook("captured", reference))


class TestMoneyMovesTheBooking:
    def test_part_paid_at_booking_created_waits_for_the_rest(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        holiday = Holiday(any_store)
        holiday.captured(holiday.intent("6000"))
        assert holiday.status() == "payment_pending"
        holiday.captured(holiday.intent(key="pay-2"))  # the 9,000 left
        assert holiday.statuses()[-2:] == ["payment_pending", "payment_confirmed"]

    def test_paid_in_full_at_booking_created_is_payment_confirmed(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        holiday = Holiday(any_store)
        holiday.core.payments.record_manual_payment(
            holiday.booking.id, Money("15000", "INR"), principal=ADMIN, reference="CASH-1"
        )
        assert holiday.statuses()[-3:] == [
            "booking_created",
            "payment_pending",
            "payment_confirmed",
        ]
        history = holiday.core.bookings.history(holiday.booking.id, principal=ADMIN)
        # The paid move is the payment's (partner webhooks send it as booking.paid).
        assert PAYMENT_METADATA_KEY in history[-1].metadata
        assert PAYMENT_METADATA_KEY not in history[-2].metadata

    def test_a_cancelled_item_that_leaves_the_total_paid_confirms_the_payment(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        holiday = Holiday(any_store)
        holiday.core.payments.record_manual_payment(
            holiday.booking.id, Money("10000", "INR"), principal=ADMIN, reference="CASH-1"
        )
        assert holiday.status() == "payment_pending"
        (hotel,) = holiday.core.items.for_booking(holiday.booking.id, principal=ADMIN)
        holiday.core.items.cancel(hotel.id, principal=ADMIN)
        # ... and no further: with no live item left, no supplier confirmed anything.
        assert holiday.status() == "payment_confirmed"


class TestNothingMoreIsDue:
    def test_the_desk_cannot_record_more_than_is_due(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        holiday = Holiday(any_store)
        with pytest.raises(ValidationError) as refused:
            holiday.core.payments.record_manual_payment(
                holiday.booking.id, Money("15000.01", "INR"), principal=ADMIN, reference="C-1"
            )
        assert refused.value.fields == ("amount",)
        assert refused.value.errors[0].code == "exceeds_due"
        assert holiday.core.payments.for_booking(holiday.booking.id, principal=ADMIN) == []

    def test_nothing_is_due_on_a_cancelled_booking(self, any_store: MemoryStore | SqlStore) -> None:
        holiday = Holiday(any_store)
        holiday.core.bookings.cancel(holiday.booking.id, principal=ADMIN)
        with pytest.raises(ValidationError) as no_intent:
            holiday.intent()
        with pytest.raises(ValidationError) as no_cash:
            holiday.core.payments.record_manual_payment(
                holiday.booking.id, Money("100", "INR"), principal=ADMIN, reference="C-1"
            )
        assert no_intent.value.fields == no_cash.value.fields == ("amount",)
        assert holiday.core.payments.for_booking(holiday.booking.id, principal=ADMIN) == []

    def test_a_second_intent_captured_for_one_balance_is_flagged(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        holiday = Holiday(any_store)
        first, second = holiday.intent(key="tab-1"), holiday.intent(key="tab-2")
        holiday.captured(first)
        holiday.captured(second)
        kept, extra = holiday.core.payments.for_booking(holiday.booking.id, principal=ADMIN)
        assert kept.attention == ()
        assert [i.code for i in extra.attention] == ["overpaid"]
        assert "15,000.00 INR more than the 0.00 INR due" in extra.attention[0].text
        trail = holiday.core.audit.trail("payment", extra.id, principal=ADMIN)
        # Created, captured by the provider's webhook, flagged.
        assert [e.action.value for e in trail] == ["created", "status_changed", "updated"]
        assert trail[1].actor.kind.value == "webhook"
        assert trail[-1].new_values["needs_attention"] == extra.attention[0].text
        assert holiday.status() == "payment_confirmed"

    def test_money_captured_for_a_refunded_booking_is_flagged_as_late(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        holiday = Holiday(any_store)
        reference = holiday.intent("100")
        cash = holiday.core.payments.record_manual_payment(
            holiday.booking.id, Money("200", "INR"), principal=ADMIN, reference="CASH-1"
        )
        holiday.core.payments.refund(
            cash.id, Money("200", "INR"), principal=ADMIN, idempotency_key="all-back"
        )
        assert holiday.status() == "refunded"
        holiday.captured(reference)
        payments = holiday.core.payments.for_booking(holiday.booking.id, principal=ADMIN)
        late = next(p for p in payments if p.provider_reference == reference)
        assert "refunded" in late.attention[0].text
        assert holiday.status() == "refunded"

    def test_a_refund_of_a_refunded_booking_failing_afterwards_is_no_late_payment(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        # The bank returns the refund that ended the booking: the payment is captured again,
        # but no money came in. It is owed back (refund_reversed), not a late payment: it
        # was not flagged late, invoiced a second time, nor refunded again by itself.
        holiday = Holiday(any_store)
        reference = holiday.intent()
        holiday.captured(reference)
        (paid,) = holiday.core.payments.for_booking(holiday.booking.id, principal=ADMIN)
        back = holiday.core.payments.refund(
            paid.id, Money("15000", "INR"), principal=ADMIN, idempotency_key="all-back"
        )
        assert holiday.status() == "refunded"
        assert back.provider_reference is not None
        holiday.core.payments.handle_webhook(
            "card", *holiday.card.refund_webhook(back.provider_reference, reference, "failed")
        )
        (paid,) = holiday.core.payments.for_booking(holiday.booking.id, principal=ADMIN)
        assert paid.status is PaymentStatus.CAPTURED
        assert [item.code for item in paid.attention] == ["refund_reversed"]
        assert holiday.status() == "refunded"
        documents = holiday.core.payments.invoices_for(holiday.booking.id, principal=ADMIN)
        assert [d.number[:3] for d in documents] == ["INV", "CN-", "DN-"]


class TestMoneyTheProviderTookIsNeverDropped:
    """A capture is settled whole or recorded alone and flagged; a refused one is flagged."""

    def test_a_capture_whose_settlement_fails_is_recorded_alone_and_flagged(
        self, any_store: MemoryStore | SqlStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        holiday = Holiday(any_store)

        def refuse(*args: object, **kwargs: object) -> object:
            raise ValidationError.single("lines", "cannot be priced", "invalid")

        # The invoice is the last step: the booking moved and the commission accrued first.
        monkeypatch.setattr(payments_module, "priced_lines", refuse)
        reference = holiday.intent()
        receipt = holiday.core.payments.handle_webhook(
            "card", *holiday.card.webhook("captured", reference)
        )
        assert receipt.status is ReceiptStatus.APPLIED
        (paid,) = holiday.core.payments.for_booking(holiday.booking.id, principal=ADMIN)
        assert paid.status is PaymentStatus.CAPTURED
        assert "cannot be priced" in paid.attention[0].text
        assert holiday.status() == "booking_created"
        assert holiday.core.payments.invoices_for(holiday.booking.id, principal=ADMIN) == []

    def test_a_capture_above_the_payment_is_refused_and_flagged(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        holiday = Holiday(any_store)
        reference = holiday.intent("6000")
        receipt = holiday.core.payments.handle_webhook(
            "card", *holiday.card.webhook("captured", reference, amount=Money("7000", "INR"))
        )
        assert receipt.status is ReceiptStatus.FAILED
        (payment,) = holiday.core.payments.for_booking(holiday.booking.id, principal=ADMIN)
        assert payment.status is PaymentStatus.PENDING
        assert "7,000.00 INR" in payment.attention[0].text
        assert holiday.status() == "booking_created"


class TestMoneyStatesFollowFromMoney:
    """``payment_confirmed`` and ``refunded`` are the payment service's to set, nobody else's."""

    @pytest.mark.parametrize("target", ["payment_confirmed", "Refunded"])
    @pytest.mark.parametrize(
        "principal",
        [ADMIN, Principal.system("desk")],
        ids=["staff", "system"],
    )
    def test_nobody_moves_a_booking_there_by_hand(
        self, any_store: MemoryStore | SqlStore, target: str, principal: Principal
    ) -> None:
        holiday = Holiday(any_store)
        holiday.core.payments.record_manual_payment(
            holiday.booking.id, Money("6000", "INR"), principal=ADMIN, reference="CASH-1"
        )
        before = holiday.statuses()
        assert before[-1] == "payment_pending"
        with pytest.raises(ValidationError) as refused:
            holiday.core.bookings.transition(holiday.booking.id, target, principal=principal)
        assert refused.value.fields == ("status",)
        assert refused.value.errors[0].code == "money_state"
        assert holiday.statuses() == before

    @pytest.mark.parametrize("target", ["payment_confirmed", "Refunded"])
    def test_a_webhook_does_not_even_see_the_booking(
        self, any_store: MemoryStore | SqlStore, target: str
    ) -> None:
        # Its payment moves the booking there; the webhook itself moves nothing by hand.
        holiday = Holiday(any_store)
        holiday.core.payments.record_manual_payment(
            holiday.booking.id, Money("6000", "INR"), principal=ADMIN, reference="CASH-1"
        )
        before = holiday.statuses()
        with pytest.raises(NotFoundError):
            holiday.core.bookings.transition(
                holiday.booking.id, target, principal=Principal.webhook("card")
            )
        assert holiday.statuses() == before

    def test_a_cancelled_booking_is_not_marked_refunded_by_hand(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        holiday = Holiday(any_store)
        holiday.core.bookings.cancel(holiday.booking.id, principal=ADMIN)
        with pytest.raises(ValidationError) as refused:
            holiday.core.bookings.transition(holiday.booking.id, "refunded", principal=ADMIN)
        assert refused.value.fields == ("status",)
        assert holiday.status() == "cancelled"

    def test_giving_every_rupee_back_moves_the_booking_to_refunded(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        holiday = Holiday(any_store)
        payments = holiday.core.payments
        cash = payments.record_manual_payment(
            holiday.booking.id, Money("15000", "INR"), principal=ADMIN, reference="CASH-1"
        )
        assert holiday.status() == "payment_confirmed"
        payments.refund(cash.id, Money("5000", "INR"), principal=ADMIN, idempotency_key="r1")
        assert holiday.status() == "payment_confirmed"  # money is still kept
        payments.refund(cash.id, Money("10000", "INR"), principal=ADMIN, idempotency_key="r2")
        history = holiday.core.bookings.history(holiday.booking.id, principal=ADMIN)
        assert [e.to_status for e in history][-2:] == ["payment_confirmed", "refunded"]
        assert history[-1].actor.kind.value == "staff"
        assert (history[-1].note or "").startswith("refunded by manual")
        booking = holiday.core.bookings.get(holiday.booking.id, principal=ADMIN)
        slot = holiday.core.catalog.get_slot(booking.slot_id, principal=ADMIN)
        assert slot.seats_held == 0  # refunded holds no seats

    def test_a_cancelled_booking_whose_money_went_back_is_refunded(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        holiday = Holiday(any_store)
        cash = holiday.core.payments.record_manual_payment(
            holiday.booking.id, Money("6000", "INR"), principal=ADMIN, reference="CASH-1"
        )
        holiday.core.bookings.cancel(holiday.booking.id, principal=ADMIN)
        holiday.core.payments.refund(
            cash.id, Money("6000", "INR"), principal=ADMIN, idempotency_key="r1"
        )
        assert holiday.statuses()[-2:] == ["cancelled", "refunded"]


class TestInvoiceDocuments:
    def test_the_invoice_lists_the_bookings_line_items_and_adds_up_to_its_total(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        # The seat (10,000) and the quotation's hotel line (5,000): an invoice of 15,000.
        holiday = Holiday(any_store)
        core = holiday.core
        core.payments.record_manual_payment(
            holiday.booking.id, Money("6000", "INR"), principal=ADMIN, reference="CASH-1"
        )
        (invoice,) = core.payments.invoices_for(holiday.booking.id, principal=ADMIN)
        reference = holiday.booking.reference
        assert [(line.description, line.total) for line in invoice.lines] == [
            (f"Booking {reference}: Asha Rao", Money("10000", "INR")),
            (f"Booking {reference}: Two nights", Money("5000", "INR")),
        ]
        assert invoice.total == holiday.booking.total == Money("15000", "INR")
        assert (invoice.paid, invoice.due) == (Money("6000", "INR"), Money("9000", "INR"))

    def test_invoices_and_credit_notes_are_generated_as_versioned_documents(
        self, any_store: MemoryStore | SqlStore, tmp_path: Path
    ) -> None:
        holiday = Holiday(any_store)
        core = holiday.core
        files = FileSystemDocumentStore(tmp_path)
        core.travel_documents = TravelDocumentService(core.context, core.itineraries, files)
        cash = core.payments.record_manual_payment(
            holiday.booking.id, Money("15000", "INR"), principal=ADMIN, reference="CASH-1"
        )
        core.payments.refund(cash.id, Money("5000", "INR"), principal=ADMIN, idempotency_key="r1")
        invoice, credit = core.payments.invoices_for(holiday.booking.id, principal=ADMIN)
        made = core.travel_documents.generate(holiday.booking.id, "invoice", principal=ADMIN)
        assert [(d.kind, d.filename) for d in made] == [
            (DocumentKind.INVOICE, f"{invoice.number}-v1.txt"),
            (DocumentKind.CREDIT_NOTE, f"{credit.number}-v1.txt"),
        ]
        assert f"Invoice {invoice.number}" in made[0].content
        assert "Paid: 15,000.00 INR" in made[0].content
        assert "Refunded: -5,000.00 INR" in made[1].content
        again = core.travel_documents.generate(holiday.booking.id, "invoice", principal=ADMIN)
        assert [d.filename for d in again] == [
            f"{invoice.number}-v2.txt",
            f"{credit.number}-v2.txt",
        ]
        stored = files.get(f"{holiday.booking.reference}/{invoice.number}-v2.txt").decode()
        assert stored == again[0].content
        assert len(core.bookings.documents(holiday.booking.id, principal=ADMIN)) == 4

    def test_a_renderer_prints_the_invoice_as_issued(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        holiday = Holiday(any_store)
        core = holiday.core
        renderer = PlainRenderer()
        core.travel_documents = TravelDocumentService(
            core.context, core.itineraries, renderer=renderer
        )
        core.payments.record_manual_payment(
            holiday.booking.id, Money("6000", "INR"), principal=ADMIN, reference="CASH-1"
        )
        (invoice,) = core.payments.invoices_for(holiday.booking.id, principal=ADMIN)
        (made,) = core.travel_documents.generate(holiday.booking.id, "invoice", principal=ADMIN)
        assert made.filename == f"{invoice.number}-v1.html"
        shown = core.invoices.render(invoice.id, principal=ADMIN, renderer=renderer)
        assert made.content == shown.content
        assert invoice.number in made.content
