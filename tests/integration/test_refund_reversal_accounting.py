"""On every backend: a settled refund the provider reports failed afterwards (the customer's
bank returned it) is undone in the books too. The credit note issued for it stays (numbers are
gapless, nothing issued is deleted) and a debit note reverses it, from the same series; the
partner commission the refund reversed is restored. Once, whatever the redeliveries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import (
    AuditAction,
    Booking,
    CommissionEntryKind,
    DocumentKind,
    Invoice,
    InvoiceKind,
    Payment,
    Refund,
)
from bookingcore.testing import FakePaymentProvider, FixedClock
from bookingcore_adapters.documents import PlainRenderer
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
ACCRUAL, REVERSAL = CommissionEntryKind.ACCRUAL, CommissionEntryKind.REVERSAL


def inr(amount: str) -> Money:
    return Money(amount, "INR")


class Shop:
    """A partner at 12.5 % books two seats at 4,000 INR; its customer pays by card."""

    def __init__(self, store: MemoryStore | SqlStore, lifecycle: str | None = None) -> None:
        self.store = store
        self.clock = FixedClock()
        self.card = FakePaymentProvider()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            payment_providers=[self.card],
            renderer=PlainRenderer("text"),
        )
        camp = self.core.catalog.add_location("REV1", "Base camp", principal=ADMIN)
        slot = self.core.catalog.create_slot(
            location_id=camp.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=inr("4000"),
            capacity=50,
            principal=ADMIN,
        )
        partner = self.core.partners.register(
            name="Trailhead",
            company_name="Trailhead Treks",
            contact_email="ops@trailhead.example.com",
            allowed_location_ids=[camp.id],
            commission_rate=Decimal("12.5"),
            principal=ADMIN,
        ).partner
        by = Principal.partner(partner.id)
        customer = self.core.customers.register("+919800000001", name="Kabir", principal=by)
        self.booking: Booking = self.core.bookings.book(
            BookingRequest(
                slot.id,
                [
                    NewTraveler(TravelerDetails(n), is_primary=n == "Kabir")
                    for n in ("Kabir", "Zoya")
                ],
                customer_id=customer.customer.id,
                lifecycle=lifecycle,
            ),
            principal=by,
        )
        if lifecycle == "travel":  # by hand up to where it waits for money
            for status in ("quotation_sent", "quotation_approved", "booking_created"):
                self.core.bookings.transition(self.booking.id, status, principal=ADMIN)
        intent = self.core.payments.create_intent(
            self.booking.id, "fake", principal=by, idempotency_key="pay-1"
        )
        assert intent.payment.provider_reference is not None
        self.reference = intent.payment.provider_reference
        self.core.payments.handle_webhook("fake", *self.card.webhook("captured", self.reference))

    def payment(self) -> Payment:
        (payment,) = self.core.payments.for_booking(self.booking.id, principal=ADMIN)
        return payment

    def refund(self, amount: str, key: str) -> Refund:
        return self.core.payments.refund(
            self.payment().id, inr(amount), principal=ADMIN, idempotency_key=key
        )

    def bank_returns(self, refund: Refund) -> None:
        """The provider reports the settled ``refund`` failed: the customer's bank returned it."""
        assert refund.provider_reference is not None
        self.core.payments.handle_webhook(
            "fake",
            *self.card.refund_webhook(
                refund.provider_reference, self.reference, "failed", amount=refund.amount
            ),
        )

    def documents(self) -> list[Invoice]:
        return self.core.payments.invoices_for(self.booking.id, principal=ADMIN)

    def ledger(self) -> list[tuple[CommissionEntryKind, Money]]:
        entries = self.core.commissions.for_booking(self.booking.id, principal=ADMIN)
        return [(e.kind, e.amount) for e in entries]

    def owed(self) -> Money:
        return sum((amount for _, amount in self.ledger()), inr("0"))


@pytest.fixture
def shop(any_store: MemoryStore | SqlStore) -> Shop:
    return Shop(any_store)


def test_a_reversed_refund_gets_a_debit_note_reversing_its_credit_note(shop: Shop) -> None:
    back = shop.refund("2000", "desk-1")
    invoice, credit = shop.documents()
    assert credit.kind is InvoiceKind.CREDIT_NOTE

    shop.bank_returns(back)
    shop.bank_returns(back)  # delivered again: nothing twice

    documents = shop.documents()
    assert [d.kind for d in documents] == [
        InvoiceKind.INVOICE,
        InvoiceKind.CREDIT_NOTE,
        InvoiceKind.DEBIT_NOTE,
    ]
    kept, debit = documents[1], documents[2]
    assert (kept.id, kept.number, kept.total) == (credit.id, credit.number, inr("-2000"))
    # Gapless: the next number of the credit note's series, with its own prefix.
    assert debit.series_key == credit.series_key
    assert debit.sequence == credit.sequence + 1
    assert debit.number.startswith("DN-")
    assert (debit.credited_invoice_id, debit.refund_id) == (credit.id, back.id)
    assert (debit.payment_id, debit.customer_id) == (credit.payment_id, credit.customer_id)
    # It charges back exactly what the credit note gave: the money is the business's again.
    assert (debit.total, debit.paid, debit.due) == (inr("2000"), inr("2000"), inr("0"))
    assert debit.tax == -credit.tax
    (line,) = debit.lines
    assert credit.number in line.description
    assert back.provider_reference is not None
    assert back.provider_reference in line.description
    assert invoice.kind is InvoiceKind.INVOICE
    trail = shop.core.audit.trail("invoice", debit.id, principal=ADMIN)
    assert [(e.action, e.new_values.get("reverses")) for e in trail] == [
        (AuditAction.CREATED, credit.number)
    ]

    data = shop.core.invoices.document_data(debit.id, principal=ADMIN)
    assert data.kind is DocumentKind.DEBIT_NOTE
    assert data.credited is not None
    assert data.credited.id == credit.id
    text = shop.core.invoices.render(debit.id, principal=ADMIN).content
    assert isinstance(text, str)
    assert "Debit note" in text
    assert debit.number in text
    assert credit.number in text


def test_a_reversed_refund_restores_the_commission_it_reversed(shop: Shop) -> None:
    back = shop.refund("2000", "desk-1")
    assert shop.ledger() == [(ACCRUAL, inr("1000")), (REVERSAL, inr("-250"))]

    shop.bank_returns(back)
    shop.bank_returns(back)  # delivered again: restored once

    assert shop.ledger() == [
        (ACCRUAL, inr("1000")),
        (REVERSAL, inr("-250")),
        (ACCRUAL, inr("250")),
    ]
    restored = shop.core.commissions.for_booking(shop.booking.id, principal=ADMIN)[2]
    assert restored.refund_id == back.id
    assert restored.base == inr("2000")
    assert restored.key == f"refund_reversed:{back.id}"
    assert shop.owed() == inr("1000")  # the business keeps all 8,000 again
    # The report (summed by the storage) counts the restoration as accrued in its period.
    now = shop.clock.now()
    report = shop.core.commissions.report(
        now - timedelta(days=1), now + timedelta(days=1), principal=ADMIN
    )
    (line,) = report.lines
    assert (line.accrued, line.reversed, line.net) == (inr("1250"), inr("250"), inr("1000"))

    # The customer's new refund reverses the commission again, in proportion.
    shop.refund("2000", "desk-2")
    assert shop.owed() == inr("750")
    shop.refund("6000", "desk-3")
    assert shop.owed() == inr("0")


def test_a_reversed_refund_of_a_cancelled_booking_restores_no_commission(shop: Shop) -> None:
    back = shop.refund("2000", "desk-1")
    shop.core.bookings.cancel(shop.booking.id, principal=ADMIN, reason="trek closed")
    assert shop.owed() == inr("0")

    shop.bank_returns(back)

    assert shop.owed() == inr("0")  # cancelled: the partner earns nothing back
    assert [d.kind for d in shop.documents()][-1] is InvoiceKind.DEBIT_NOTE


def test_a_reversed_refund_is_not_taken_for_a_new_capture(shop: Shop) -> None:
    # The payment moves back to captured, but no money came in: the capture was invoiced
    # and settled when it happened, so nothing is invoiced, accrued or flagged again.
    back = shop.refund("8000", "desk-all")  # all of it
    status = shop.core.bookings.get(shop.booking.id, principal=ADMIN).status

    shop.bank_returns(back)

    invoices = [d for d in shop.documents() if d.kind is InvoiceKind.INVOICE]
    assert [d.number for d in invoices] == [shop.documents()[0].number]
    assert [item.code for item in shop.payment().attention] == ["refund_reversed"]
    assert shop.core.bookings.get(shop.booking.id, principal=ADMIN).status == status
    assert shop.owed() == inr("1000")


def test_a_reversed_refund_of_a_booking_ended_refunded_restores_no_commission(
    any_store: MemoryStore | SqlStore,
) -> None:
    # All the money went back and the booking ended refunded: closed, it earns nothing
    # (as a late payment accrues nothing), even once the bank returns the refund.
    shop = Shop(any_store, lifecycle="travel")
    assert shop.core.bookings.get(shop.booking.id, principal=ADMIN).status == "payment_confirmed"
    back = shop.refund("8000", "desk-all")
    assert shop.core.bookings.get(shop.booking.id, principal=ADMIN).status == "refunded"
    assert shop.owed() == inr("0")

    shop.bank_returns(back)

    assert shop.owed() == inr("0")
    assert [d.kind for d in shop.documents()][-1] is InvoiceKind.DEBIT_NOTE


def test_a_reversed_refund_of_a_reactivated_booking_restores_its_commission(
    any_store: MemoryStore | SqlStore,
) -> None:
    # Cancelled and brought back (an appointment), the booking is live again: a refund
    # that settled before and bounces now is the business's money, as for any live booking.
    shop = Shop(any_store, lifecycle="appointment")
    back = shop.refund("2000", "desk-1")
    shop.core.bookings.cancel(shop.booking.id, principal=ADMIN)
    shop.core.bookings.transition(shop.booking.id, "PENDING", principal=ADMIN)
    assert shop.owed() == inr("750")

    shop.bank_returns(back)

    assert shop.owed() == inr("1000")
    assert shop.ledger()[-1] == (ACCRUAL, inr("250"))


def test_a_refund_bouncing_after_a_reactivation_that_earned_nothing_restores_it(
    any_store: MemoryStore | SqlStore,
) -> None:
    # The rest went back while the booking was cancelled, so its reactivation had
    # nothing to earn again; the first refund bouncing now gives the business 2,000
    # of a live booking again, and the partner its commission on it.
    shop = Shop(any_store, lifecycle="appointment")
    back = shop.refund("2000", "desk-1")
    shop.core.bookings.cancel(shop.booking.id, principal=ADMIN)
    shop.refund("6000", "desk-2")
    shop.core.bookings.transition(shop.booking.id, "PENDING", principal=ADMIN)
    assert shop.owed() == inr("0")

    shop.bank_returns(back)

    assert shop.owed() == inr("250")
