"""PaymentService over memory: intents once per key, webhooks applied once, bookings paid
through the one booking path, late payments, refunds that never overdraw."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

import bookingcore.services.payments as payments_module
from bookingcore import (
    AuthenticationError,
    BookingCore,
    BookingRequest,
    IdempotencyConflictError,
    InvalidTransitionError,
    Lifecycle,
    Money,
    NewTraveler,
    NotFoundError,
    PaymentId,
    PaymentProviderError,
    PaymentSettings,
    PermissionDeniedError,
    Principal,
    RefundId,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import (
    PRESETS,
    Booking,
    PaymentStatus,
    ReceiptStatus,
    Refund,
    RefundStatus,
)
from bookingcore.ports.payments import (
    IntentRequest,
    ProviderCapabilities,
    ProviderIntent,
    ProviderRefund,
)
from bookingcore.testing import FakePaymentProvider, FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.payments import ManualProvider

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)


class World:
    def __init__(
        self,
        settings: PaymentSettings | None = None,
        provider: FakePaymentProvider | None = None,
    ) -> None:
        self.store = MemoryStore()
        self.clock = FixedClock()
        self.provider = provider or FakePaymentProvider()
        # Manual payments are refunded through whatever provider is wired as "manual".
        self.manual = FakePaymentProvider("manual")
        self.core = BookingCore(
            uow_factory=self.store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            payment_providers=[self.provider, self.manual],
            payment_settings=settings,
        )
        camp = self.core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=camp.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=Money("4000", "INR"),
            capacity=5,
            principal=ADMIN,
        )
        customer = self.core.customers.register("+919876543210", principal=ADMIN).customer
        self.me = Principal.customer(customer.id)
        other = self.core.customers.register("+919876543219", principal=ADMIN).customer
        self.someone_else = Principal.customer(other.id)

    def book(self, travelers: int = 2) -> Booking:
        return self.core.bookings.book(
            BookingRequest(
                self.slot.id,
                [
                    NewTraveler(TravelerDetails(f"Guest {n}"), is_primary=n == 0)
                    for n in range(travelers)
                ],
            ),
            principal=self.me,
        )

    def book_with_an_intent(self) -> tuple[Booking, str]:
        """A booking of two and its payment intent (key ``pay-1``) at the ``fake``
        provider: the booking and the provider's reference for the payment."""
        booking = self.book()
        intent = self.core.payments.create_intent(
            booking.id, "fake", principal=self.me, idempotency_key="pay-1"
        )
        reference = intent.payment.provider_reference
        assert reference is not None
        return booking, reference

    def status(self, booking: Booking) -> str:
        return self.core.bookings.get(booking.id, principal=ADMIN).status

    def seats(self) -> int:
        return self.core.catalog.get_slot(self.slot.id, principal=ADMIN).seats_held


@pytest.fixture
def world() -> World:
    return World()


class TestIntents:
    def test_an_intent_asks_for_the_balance_due_once_per_key(self, world: World) -> None:
        booking = world.book()
        first = world.core.payments.create_intent(
            booking.id, "fake", principal=world.me, idempotency_key="pay-1"
        )
        assert first.payment.amount == booking.total == Money("8000", "INR")
        assert first.payment.status is PaymentStatus.PENDING
        assert first.client_secret == f"{first.payment.provider_reference}_secret"
        again = world.core.payments.create_intent(
            booking.id, "fake", principal=world.me, idempotency_key="pay-1"
        )
        assert again.replayed
        assert again.payment.id == first.payment.id
        assert len(world.core.payments.for_booking(booking.id, principal=world.me)) == 1

    def test_only_the_booking_customer_or_staff_may_pay(self, world: World) -> None:
        booking = world.book()
        with pytest.raises(NotFoundError):
            world.core.payments.create_intent(
                booking.id, "fake", principal=world.someone_else, idempotency_key="k"
            )
        with pytest.raises(ValidationError) as caught:
            world.core.payments.create_intent(
                booking.id, "nope", principal=world.me, idempotency_key="k"
            )
        assert caught.value.errors[0].field == "provider"

    def test_one_key_for_another_booking_or_amount_is_an_idempotency_conflict(
        self, world: World
    ) -> None:
        # A replay must be the same request: otherwise the customer would be handed
        # the first booking's payment to pay for the second.
        first, second = world.book(), world.book(1)
        made = world.core.payments.create_intent(
            first.id, "fake", principal=world.me, idempotency_key="pay-1"
        )
        with pytest.raises(IdempotencyConflictError) as caught:
            world.core.payments.create_intent(
                second.id, "fake", principal=world.me, idempotency_key="pay-1"
            )
        assert caught.value.key == "pay-1"
        with pytest.raises(IdempotencyConflictError):
            world.core.payments.create_intent(
                first.id,
                "fake",
                principal=world.me,
                idempotency_key="pay-1",
                amount=Money("100", "INR"),
            )
        same = world.core.payments.create_intent(
            first.id, "fake", principal=world.me, idempotency_key="pay-1", amount=first.total
        )
        assert (same.replayed, same.payment.id) == (True, made.payment.id)
        assert len(world.core.payments.for_booking(second.id, principal=world.me)) == 0

    def test_a_twin_with_one_key_for_another_booking_racing_in_is_a_conflict(self) -> None:
        # Two requests with one key for two bookings, at once: the other stores its payment
        # while this one asks the provider. This one must not answer the other's payment
        # (for the other booking) as its own replay.
        class Racing(FakePaymentProvider):
            twin: Callable[[], object] | None = None

            def create_intent(self, request: IntentRequest) -> ProviderIntent:
                twin, self.twin = self.twin, None
                if twin is not None:
                    twin()  # the other request, all of it, while this one is at the provider
                return super().create_intent(request)

        world = World(provider=Racing())
        first, second = world.book(), world.book(1)
        racing = world.provider
        assert isinstance(racing, Racing)
        racing.twin = lambda: world.core.payments.create_intent(
            first.id, "fake", principal=world.me, idempotency_key="pay-1"
        )
        with pytest.raises(IdempotencyConflictError) as caught:
            world.core.payments.create_intent(
                second.id, "fake", principal=world.me, idempotency_key="pay-1"
            )
        assert caught.value.key == "pay-1"
        assert world.core.payments.for_booking(second.id, principal=world.me) == []
        assert len(world.core.payments.for_booking(first.id, principal=world.me)) == 1

    def test_an_amount_that_is_not_money_is_refused_naming_it(self, world: World) -> None:
        booking = world.book()
        payment = world.core.payments.record_manual_payment(
            booking.id, Money("1000", "INR"), principal=ADMIN, reference="CASH-1"
        )
        calls = [
            lambda: world.core.payments.create_intent(
                booking.id, "fake", principal=world.me, idempotency_key="k", amount=Decimal(100)
            ),
            lambda: world.core.payments.record_manual_payment(
                booking.id, "100", principal=ADMIN, reference="CASH-2"
            ),
            lambda: world.core.payments.refund(
                payment.id, 100, principal=ADMIN, idempotency_key="r"
            ),
        ]
        for call in calls:
            with pytest.raises(ValidationError) as caught:
                call()
            assert (caught.value.fields, caught.value.errors[0].code) == (
                ("amount",),
                "invalid_type",
            )
        (only,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert only.refunded_amount == only.pending_refund_amount == Money("0", "INR")

    def test_more_than_is_due_is_refused(self, world: World) -> None:
        booking = world.book()
        with pytest.raises(ValidationError) as caught:
            world.core.payments.create_intent(
                booking.id,
                "fake",
                principal=world.me,
                idempotency_key="k",
                amount=Money("9000", "INR"),
            )
        assert caught.value.errors[0].code == "exceeds_due"


class TestWebhooks:
    def test_a_captured_payment_confirms_the_booking_once(self, world: World) -> None:
        booking, reference = world.book_with_an_intent()
        headers, body = world.provider.webhook("captured", reference)
        receipt = world.core.payments.handle_webhook("fake", headers, body)
        assert receipt.status is ReceiptStatus.APPLIED
        assert world.status(booking) == "confirmed"
        (paid,) = world.core.payments.for_booking(booking.id, principal=world.me)
        assert paid.status is PaymentStatus.CAPTURED
        history = world.core.bookings.history(booking.id, principal=ADMIN)
        assert [(e.to_status, e.actor.kind.value) for e in history][-1] == ("confirmed", "webhook")
        # the same delivery again: the same receipt, nothing more
        again = world.core.payments.handle_webhook("fake", headers, body)
        assert again.id == receipt.id
        assert len(world.core.bookings.history(booking.id, principal=ADMIN)) == len(history)

    def test_a_delivery_that_does_not_verify_is_refused_and_stored_nowhere(
        self, world: World
    ) -> None:
        booking = world.book()
        intent = world.core.payments.create_intent(
            booking.id, "fake", principal=world.me, idempotency_key="pay-1"
        )
        assert intent.payment.provider_reference is not None
        headers, body = world.provider.webhook("captured", intent.payment.provider_reference)
        tampered = body.replace(b"captured", b"cancelled")
        with pytest.raises(AuthenticationError):
            world.core.payments.handle_webhook("fake", headers, tampered)
        assert world.store.count("webhook_inbox") == 0
        assert world.status(booking) == "pending"

    def test_a_late_authorized_event_does_not_move_a_captured_payment_back(
        self, world: World
    ) -> None:
        booking, reference = world.book_with_an_intent()
        world.core.payments.handle_webhook("fake", *world.provider.webhook("captured", reference))
        late = world.core.payments.handle_webhook(
            "fake", *world.provider.webhook("authorized", reference)
        )
        assert late.status is ReceiptStatus.APPLIED
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert paid.status is PaymentStatus.CAPTURED

    def test_an_event_about_no_known_payment_is_kept_as_ignored(self, world: World) -> None:
        receipt = world.core.payments.handle_webhook(
            "fake", *world.provider.webhook("captured", "pi_unknown")
        )
        assert receipt.status is ReceiptStatus.IGNORED

    def test_an_event_contradicting_the_payment_is_kept_as_failed(self, world: World) -> None:
        booking, reference = world.book_with_an_intent()
        world.core.payments.handle_webhook("fake", *world.provider.webhook("cancelled", reference))
        receipt = world.core.payments.handle_webhook(
            "fake", *world.provider.webhook("captured", reference)
        )
        assert receipt.status is ReceiptStatus.FAILED
        assert receipt.error
        assert world.status(booking) == "pending"


class TestUndecidedEvents:
    """Events between retry statuses are decided by the provider's current state."""

    @staticmethod
    def _intent(world: World) -> tuple[Booking, str]:
        return world.book_with_an_intent()

    @staticmethod
    def _payment_status(world: World, booking: Booking) -> PaymentStatus:
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        return payment.status

    def test_an_older_retry_event_arriving_last_is_decided_by_the_provider(
        self, world: World
    ) -> None:
        booking, reference = self._intent(world)
        older = world.provider.webhook("requires_action", reference)
        newer = world.provider.webhook("failed", reference, failure_reason="card declined")
        world.core.payments.handle_webhook("fake", *newer)
        assert "fetch" not in world.provider.calls  # the first event decides by itself
        receipt = world.core.payments.handle_webhook("fake", *older)
        assert receipt.status is ReceiptStatus.APPLIED
        assert world.provider.calls.count("fetch") == 1
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert (payment.status, payment.failure_reason) == (PaymentStatus.FAILED, "card declined")
        assert payment.processed_event_ids == {
            json.loads(older[1])["id"],
            json.loads(newer[1])["id"],
        }

    def test_a_deciding_event_never_asks_the_provider(self, world: World) -> None:
        booking, reference = self._intent(world)
        for status in ("requires_action", "authorized", "failed", "captured"):
            world.core.payments.handle_webhook("fake", *world.provider.webhook(status, reference))
        assert "fetch" not in world.provider.calls
        assert world.status(booking) == "confirmed"

    def test_a_provider_state_of_captured_confirms_and_invoices_the_booking(
        self, world: World
    ) -> None:
        booking, reference = self._intent(world)
        world.core.payments.handle_webhook(
            "fake", *world.provider.webhook("requires_action", reference)
        )
        stale = world.provider.webhook("failed", reference)
        world.provider.set_state(reference, "captured")  # paid meanwhile; its event is late
        receipt = world.core.payments.handle_webhook("fake", *stale)
        assert receipt.status is ReceiptStatus.APPLIED
        assert self._payment_status(world, booking) is PaymentStatus.CAPTURED
        assert world.status(booking) == "confirmed"
        (invoice,) = world.core.payments.invoices_for(booking.id, principal=ADMIN)
        assert invoice.paid == booking.total

    def test_without_the_capability_the_event_arriving_last_wins(self) -> None:
        world = World(provider=FakePaymentProvider(fetch_state=False))
        booking, reference = self._intent(world)
        older = world.provider.webhook("requires_action", reference)
        newer = world.provider.webhook("failed", reference)
        world.core.payments.handle_webhook("fake", *newer)
        world.core.payments.handle_webhook("fake", *older)
        assert "fetch" not in world.provider.calls
        assert self._payment_status(world, booking) is PaymentStatus.REQUIRES_ACTION

    def test_an_unreachable_provider_leaves_the_delivery_received_for_its_redelivery(
        self, world: World
    ) -> None:
        booking, reference = self._intent(world)
        older = world.provider.webhook("requires_action", reference)
        newer = world.provider.webhook("failed", reference)
        world.core.payments.handle_webhook("fake", *newer)
        world.provider.fail_fetches(times=2)
        for _ in range(2):
            with pytest.raises(PaymentProviderError) as caught:
                world.core.payments.handle_webhook("fake", *older)
            assert caught.value.retryable
        event_id = json.loads(older[1])["id"]
        with world.store.unit_of_work() as uow:
            waiting = uow.webhook_inbox.get_by_event("fake", event_id)
            assert waiting is not None
            assert (waiting.status, waiting.attempts) == (ReceiptStatus.RECEIVED, 2)
            assert waiting.error is not None
            assert "could not be reached" in waiting.error
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert not payment.has_processed(event_id)
        assert payment.status is PaymentStatus.FAILED
        receipt = world.core.payments.handle_webhook("fake", *older)  # the provider retries
        assert (receipt.id, receipt.status, receipt.error) == (
            waiting.id,
            ReceiptStatus.APPLIED,
            None,
        )
        assert self._payment_status(world, booking) is PaymentStatus.FAILED
        assert world.core.payments.handle_webhook("fake", *older).status is ReceiptStatus.APPLIED
        assert world.store.count("webhook_inbox") == 2

    def test_any_error_of_fetch_becomes_a_provider_error(self, world: World) -> None:
        booking, reference = self._intent(world)
        older = world.provider.webhook("requires_action", reference)
        world.core.payments.handle_webhook("fake", *world.provider.webhook("failed", reference))

        def unknown(reference: str) -> object:
            raise NotFoundError("payment", reference)

        world.provider.fetch = unknown  # type: ignore[method-assign,assignment]
        with pytest.raises(PaymentProviderError) as caught:
            world.core.payments.handle_webhook("fake", *older)
        assert caught.value.reason == NotFoundError.code
        assert isinstance(caught.value.__cause__, NotFoundError)
        assert self._payment_status(world, booking) is PaymentStatus.FAILED


class TestPartPaymentsAndLatePayments:
    def test_two_manual_halves_confirm_the_booking_only_when_the_total_is_paid(
        self, world: World
    ) -> None:
        booking = world.book()
        half = Money("4000", "INR")
        world.core.payments.record_manual_payment(
            booking.id, half, principal=ADMIN, reference="CASH-1", note="deposit"
        )
        assert world.status(booking) == "pending"
        world.core.payments.record_manual_payment(
            booking.id, half, principal=ADMIN, reference="CASH-2"
        )
        assert world.status(booking) == "confirmed"
        with pytest.raises(PermissionDeniedError):
            world.core.payments.record_manual_payment(
                booking.id, half, principal=world.me, reference="CASH-3"
            )

    @pytest.mark.parametrize("reference", ["", "   "])
    def test_a_manual_payment_without_a_reference_is_refused_naming_it(
        self, world: World, reference: str
    ) -> None:
        # Without one it could never be refunded (a refund goes by the provider reference).
        booking = world.book()
        with pytest.raises(ValidationError) as caught:
            world.core.payments.record_manual_payment(
                booking.id, booking.total, principal=ADMIN, reference=reference
            )
        assert caught.value.fields == ("reference",)
        assert world.core.payments.for_booking(booking.id, principal=ADMIN) == []

    def test_a_payment_for_a_cancelled_booking_takes_no_seats_and_is_flagged(
        self, world: World
    ) -> None:
        booking = world.book()
        intent = world.core.payments.create_intent(
            booking.id, "fake", principal=world.me, idempotency_key="pay-1"
        )
        world.core.bookings.cancel(booking.id, principal=world.me)
        reference = intent.payment.provider_reference
        assert reference is not None
        world.core.payments.handle_webhook("fake", *world.provider.webhook("captured", reference))
        assert world.status(booking) == "cancelled"
        assert world.seats() == 0
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert [i.code for i in paid.attention] == ["late_payment"]
        assert paid.refunded_amount == Money("0", "INR")

    def test_a_late_refund_the_provider_could_not_take_is_sent_again_on_redelivery(
        self,
    ) -> None:
        # The capture commits, then its refund times out: handle_webhook raises a retryable
        # error, so the host answers 503 and the provider delivers the event again. That
        # redelivery sends the refund again (with its key: refunded once); before, it found
        # the receipt applied and the refund stayed pending for good, its amount reserved.
        class UnreachableOnce(FakePaymentProvider):
            def __init__(self) -> None:
                super().__init__()
                self.timeouts = 1

            def refund(
                self,
                reference: str,
                amount: Money,
                *,
                idempotency_key: str,
                reason: str | None = None,
            ) -> ProviderRefund:
                if self.timeouts:
                    self.timeouts -= 1
                    raise PaymentProviderError(
                        "timed out", provider=self.name, reason="timeout", retryable=True
                    )
                return super().refund(
                    reference, amount, idempotency_key=idempotency_key, reason=reason
                )

        world = World(PaymentSettings(late_payments="refund"), provider=UnreachableOnce())
        booking = world.book()
        intent = world.core.payments.create_intent(
            booking.id, "fake", principal=world.me, idempotency_key="pay-1"
        )
        world.core.bookings.cancel(booking.id, principal=world.me)
        reference = intent.payment.provider_reference
        assert reference is not None
        delivery = world.provider.webhook("captured", reference)
        with pytest.raises(PaymentProviderError) as caught:
            world.core.payments.handle_webhook("fake", *delivery)
        assert caught.value.retryable
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert (paid.status, paid.pending_refund_amount) == (PaymentStatus.CAPTURED, booking.total)
        world.core.payments.handle_webhook("fake", *delivery)  # the provider delivers again
        world.core.payments.handle_webhook("fake", *delivery)  # and again: refunded once
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert paid.status is PaymentStatus.REFUNDED
        assert (paid.refunded_amount, paid.pending_refund_amount) == (
            booking.total,
            Money("0", "INR"),
        )
        # The timed-out call never reached the fake; the redelivery's did, the next none.
        assert world.provider.calls.count("refund") == 1

    def test_with_automatic_refunds_a_late_payment_goes_back_in_full(self) -> None:
        world = World(PaymentSettings(late_payments="refund"))
        booking = world.book()
        intent = world.core.payments.create_intent(
            booking.id, "fake", principal=world.me, idempotency_key="pay-1"
        )
        world.core.bookings.cancel(booking.id, principal=world.me)
        reference = intent.payment.provider_reference
        assert reference is not None
        world.core.payments.handle_webhook("fake", *world.provider.webhook("captured", reference))
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert paid.status is PaymentStatus.REFUNDED
        assert paid.refunded_amount == booking.total
        assert world.seats() == 0

    def test_a_late_refund_the_provider_refuses_leaves_the_payment_flagged_for_staff(
        self,
    ) -> None:
        # The capture and its booking's books are committed; the automatic refund is then
        # refused. That is no error of the delivery (answering one makes the provider
        # deliver it again and again): the receipt is applied, the refund recorded failed,
        # its amount free for staff to refund, and the flag names the refusal.
        world = World(PaymentSettings(late_payments="refund"))
        booking = world.book()
        intent = world.core.payments.create_intent(
            booking.id, "fake", principal=world.me, idempotency_key="pay-1"
        )
        world.core.bookings.cancel(booking.id, principal=world.me)
        reference = intent.payment.provider_reference
        assert reference is not None
        world.provider.decline_refunds("the card is closed")
        delivery = world.provider.webhook("captured", reference)

        receipt = world.core.payments.handle_webhook("fake", *delivery)

        assert receipt.status is ReceiptStatus.APPLIED
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert paid.status is PaymentStatus.CAPTURED
        assert paid.refundable_amount == booking.total
        assert [item.code for item in paid.attention] == ["late_payment"]
        assert "the card is closed" in paid.attention[0].text
        world.core.payments.handle_webhook("fake", *delivery)  # redelivered: nothing more
        assert world.provider.calls.count("refund") == 1


class TestCapturesNeverHalfWritten:
    """A capture is settled and invoiced whole, or recorded alone and flagged; money the
    provider took is never refused silently."""

    def _intent(self, world: World) -> tuple[Booking, str]:
        return world.book_with_an_intent()

    @pytest.mark.parametrize("step", ["booking move", "invoice"])
    def test_a_capture_its_booking_cannot_take_is_recorded_alone_and_flagged(
        self, world: World, monkeypatch: pytest.MonkeyPatch, step: str
    ) -> None:
        def refuse_move(*args: object, **kwargs: object) -> bool:
            raise InvalidTransitionError("standard", "pending", "confirmed")

        def refuse_invoice(*args: object, **kwargs: object) -> object:
            raise ValidationError.single("lines", "cannot be priced", "invalid")

        if step == "booking move":
            monkeypatch.setattr(payments_module, "advance_if_paid", refuse_move)
        else:  # after the booking moved and the commission accrued
            monkeypatch.setattr(payments_module, "priced_lines", refuse_invoice)
        booking, reference = self._intent(world)
        receipt = world.core.payments.handle_webhook(
            "fake", *world.provider.webhook("captured", reference)
        )
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        # The money is recorded, and staff are told why it settled nothing ...
        assert paid.status is PaymentStatus.CAPTURED
        assert paid.captured_amount == booking.total
        flag = paid.attention[0].text
        assert "could not take it" in flag
        assert ("confirmed" if step == "booking move" else "cannot be priced") in flag
        trail = world.core.audit.trail("payment", paid.id, principal=ADMIN)
        assert trail[-1].new_values["needs_attention"] == flag
        assert receipt.status is ReceiptStatus.APPLIED
        # ... and nothing of the settlement is half-written: no move, no invoice.
        assert world.status(booking) == "pending"
        assert world.core.payments.invoices_for(booking.id, principal=ADMIN) == []
        history = world.core.bookings.history(booking.id, principal=ADMIN)
        assert [e.to_status for e in history] == ["pending"]
        # A redelivery changes nothing more.
        again = world.core.payments.handle_webhook(
            "fake", *world.provider.webhook("captured", reference, event_id=receipt.event_id)
        )
        assert again.status is ReceiptStatus.APPLIED
        assert len(world.core.audit.trail("payment", paid.id, principal=ADMIN)) == len(trail)

    @pytest.mark.parametrize(
        ("taken", "why"),
        [(Money("9000", "INR"), "more than the"), (Money("100", "EUR"), "is in EUR")],
        ids=["above the amount", "another currency"],
    )
    def test_a_capture_the_payment_refuses_is_failed_and_flagged_for_staff(
        self, world: World, taken: Money, why: str
    ) -> None:
        booking, reference = self._intent(world)
        receipt = world.core.payments.handle_webhook(
            "fake", *world.provider.webhook("captured", reference, amount=taken)
        )
        assert receipt.status is ReceiptStatus.FAILED
        assert receipt.error is not None
        assert why in receipt.error
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert payment.status is PaymentStatus.PENDING  # never more than it asked for
        flag = payment.attention[0].text
        assert str(taken) in flag
        assert why in flag
        trail = world.core.audit.trail("payment", payment.id, principal=ADMIN)
        assert trail[-1].new_values["needs_attention"] == flag
        assert world.status(booking) == "pending"
        assert world.core.payments.invoices_for(booking.id, principal=ADMIN) == []


class TestRefunds:
    def _captured(self, world: World) -> tuple[Booking, object]:
        booking = world.book()
        payment = world.core.payments.record_manual_payment(
            booking.id, booking.total, principal=ADMIN, reference="CASH-1"
        )
        return booking, payment

    def test_refunds_never_exceed_what_was_captured_and_repeat_by_key(self) -> None:
        world = World()
        provider = world.manual
        booking, payment = self._captured(world)
        pid = payment.id  # type: ignore[attr-defined]
        first = world.core.payments.refund(
            pid, Money("3000", "INR"), principal=ADMIN, idempotency_key="r1", reason="one less"
        )
        assert first.status is RefundStatus.SUCCEEDED
        again = world.core.payments.refund(
            pid, Money("3000", "INR"), principal=ADMIN, idempotency_key="r1"
        )
        assert again.id == first.id
        assert provider.calls.count("refund") == 1
        with pytest.raises(ValidationError) as caught:
            world.core.payments.refund(
                pid, Money("6000", "INR"), principal=ADMIN, idempotency_key="r2"
            )
        assert caught.value.errors[0].code == "exceeds_captured"
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert paid.refunded_amount == Money("3000", "INR")
        assert paid.status is PaymentStatus.PARTIALLY_REFUNDED

    def test_one_key_for_another_amount_is_an_idempotency_conflict(self) -> None:
        world = World()
        _, payment = self._captured(world)
        pid = payment.id  # type: ignore[attr-defined]
        world.core.payments.refund(pid, Money("3000", "INR"), principal=ADMIN, idempotency_key="r1")
        with pytest.raises(IdempotencyConflictError):
            world.core.payments.refund(
                pid, Money("5000", "INR"), principal=ADMIN, idempotency_key="r1"
            )
        assert world.manual.calls.count("refund") == 1

    def test_a_key_that_moved_a_booking_is_a_conflict_when_reused_to_refund(self) -> None:
        world = World()
        booking, payment = self._captured(world)
        world.core.bookings.transition(
            booking.id, "cancelled", principal=ADMIN, idempotency_key="desk-1"
        )
        with pytest.raises(IdempotencyConflictError):
            world.core.payments.refund(
                payment.id,  # type: ignore[attr-defined]
                Money("1000", "INR"),
                principal=ADMIN,
                idempotency_key="desk-1",
            )
        assert world.manual.calls.count("refund") == 0

    def test_a_declined_refund_frees_its_reservation(self) -> None:
        world = World()
        provider = world.manual
        booking, payment = self._captured(world)
        provider.decline_refunds()
        pid = payment.id  # type: ignore[attr-defined]
        with pytest.raises(PaymentProviderError):
            world.core.payments.refund(
                pid, Money("8000", "INR"), principal=ADMIN, idempotency_key="r1"
            )
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert paid.pending_refund_amount == Money("0", "INR")
        assert paid.refundable_amount == Money("8000", "INR")

    def test_only_staff_may_refund_and_only_captured_money(self, world: World) -> None:
        booking = world.book()
        intent = world.core.payments.create_intent(
            booking.id, "fake", principal=world.me, idempotency_key="pay-1"
        )
        with pytest.raises(PermissionDeniedError):
            world.core.payments.refund(
                intent.payment.id, Money("1", "INR"), principal=world.me, idempotency_key="r"
            )
        with pytest.raises(InvalidTransitionError):
            world.core.payments.refund(
                intent.payment.id, Money("1", "INR"), principal=ADMIN, idempotency_key="r"
            )

    def test_a_refund_settled_later_by_webhook(self, world: World) -> None:
        world.provider.refunds_settle_later = True
        booking = world.book()
        intent = world.core.payments.create_intent(
            booking.id, "fake", principal=world.me, idempotency_key="pay-1"
        )
        reference = intent.payment.provider_reference
        assert reference is not None
        world.core.payments.handle_webhook("fake", *world.provider.webhook("captured", reference))
        refund = world.core.payments.refund(
            intent.payment.id, Money("8000", "INR"), principal=ADMIN, idempotency_key="r"
        )
        assert refund.status is RefundStatus.PENDING
        assert refund.provider_reference is not None
        world.core.payments.handle_webhook(
            "fake",
            *world.provider.refund_webhook(refund.provider_reference, reference, "succeeded"),
        )
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert paid.status is PaymentStatus.REFUNDED

    def test_one_key_refunds_two_payments_each_with_its_own_provider_refund(self) -> None:
        # Refunds repeat by key per payment: the provider must be asked per payment too,
        # or it answers the second payment's refund with the first one's.
        world = World()
        first, second = world.book(), world.book(1)
        paid = [
            world.core.payments.record_manual_payment(
                booking.id, booking.total, principal=ADMIN, reference=f"CASH-{n}"
            )
            for n, booking in enumerate((first, second))
        ]
        refunds = [
            world.core.payments.refund(
                payment.id, Money("1000", "INR"), principal=ADMIN, idempotency_key="desk-1"
            )
            for payment in paid
        ]
        assert refunds[0].id != refunds[1].id
        assert world.manual.calls.count("refund") == 2
        assert refunds[0].provider_reference != refunds[1].provider_reference
        for booking in (first, second):
            (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
            assert payment.refunded_amount == Money("1000", "INR")


class TestRefundCapabilities:
    """A refund the provider says it cannot make is refused before anything is reserved or
    sent, from the provider's capabilities (not by the provider failing late)."""

    @staticmethod
    def _paid(capabilities: ProviderCapabilities) -> tuple[World, Booking, PaymentId]:
        class Limited(FakePaymentProvider):
            @property
            def capabilities(self) -> ProviderCapabilities:
                return capabilities

        world = World(provider=Limited())
        booking = world.book()
        intent = world.core.payments.create_intent(
            booking.id, "fake", principal=world.me, idempotency_key="pay-1"
        )
        reference = intent.payment.provider_reference
        assert reference is not None
        world.core.payments.handle_webhook("fake", *world.provider.webhook("captured", reference))
        return world, booking, intent.payment.id

    @staticmethod
    def _refused(world: World, booking: Booking, amount: str) -> ValidationError:
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        with pytest.raises(ValidationError) as caught:
            world.core.payments.refund(
                payment.id, Money(amount, "INR"), principal=ADMIN, idempotency_key="r1"
            )
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert payment.pending_refund_amount == Money("0", "INR")
        assert "refund" not in world.provider.calls
        return caught.value

    @staticmethod
    def _capabilities(*, refunds: bool) -> ProviderCapabilities:
        """A card provider's, refunding nothing in part (or nothing at all)."""
        return ProviderCapabilities(
            refunds=refunds,
            partial_refunds=False,
            needs_redirect=True,
            capture_later=False,
            webhooks=True,
        )

    @pytest.mark.parametrize(
        ("refunds", "amount", "field", "code"),
        [
            pytest.param(True, "1000", "amount", "partial_refund_unsupported", id="only in full"),
            pytest.param(False, "8000", "payment_id", "refunds_unsupported", id="no refunds"),
        ],
    )
    def test_a_refund_the_provider_cannot_make_is_refused_before_it_is_asked(
        self, refunds: bool, amount: str, field: str, code: str
    ) -> None:
        world, booking, _ = self._paid(self._capabilities(refunds=refunds))
        refused = self._refused(world, booking, amount)
        assert refused.fields == (field,)
        assert refused.errors[0].code == code

    def test_a_provider_that_refunds_only_in_full_refunds_the_whole_capture(self) -> None:
        world, booking, payment_id = self._paid(self._capabilities(refunds=True))
        self._refused(world, booking, "1000")  # a part first: refused, nothing reserved
        whole = world.core.payments.refund(
            payment_id, Money("8000", "INR"), principal=ADMIN, idempotency_key="r2"
        )
        assert whole.status is RefundStatus.SUCCEEDED


class TestRefundsMadeAtTheProvider:
    """A refund made in the provider's dashboard reaches the library by webhook only."""

    def _paid(self, world: World) -> tuple[Booking, str]:
        booking, reference = world.book_with_an_intent()
        world.core.payments.handle_webhook("fake", *world.provider.webhook("captured", reference))
        return booking, reference

    def _refunds(self, world: World, booking: Booking) -> list[Refund]:
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        with world.store.unit_of_work() as uow:
            return list(uow.refunds.list_for_payment(payment.id))

    def test_it_is_recorded_and_settled_with_a_credit_note(self, world: World) -> None:
        booking, reference = self._paid(world)
        receipt = world.core.payments.handle_webhook(
            "fake",
            *world.provider.refund_webhook(
                "re_dashboard_1", reference, "succeeded", amount=Money("3000", "INR")
            ),
        )
        assert receipt.status is ReceiptStatus.APPLIED
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert paid.status is PaymentStatus.PARTIALLY_REFUNDED
        assert paid.refunded_amount == Money("3000", "INR")
        assert paid.pending_refund_amount == Money("0", "INR")
        (refund,) = self._refunds(world, booking)
        assert refund.provider_reference == "re_dashboard_1"
        assert refund.amount == Money("3000", "INR")
        assert refund.status is RefundStatus.SUCCEEDED
        assert "at fake" in (refund.reason or "")
        _, credit = world.core.payments.invoices_for(booking.id, principal=ADMIN)
        assert credit.refund_id == refund.id
        assert credit.total == Money("-3000", "INR")
        trail = world.core.audit.trail("payment", paid.id, principal=ADMIN)
        rid = str(refund.id)
        (entry,) = [e for e in trail if e.new_values.get("refund") == rid]
        assert entry.actor.kind.value == "webhook"
        assert "at fake" in (entry.reason or "")

    def test_redeliveries_and_other_events_naming_it_record_it_once(self, world: World) -> None:
        booking, reference = self._paid(world)
        amount = Money("8000", "INR")
        created = world.provider.refund_webhook("re_d", reference, "succeeded", amount=amount)
        charged = world.provider.refund_webhook("re_d", reference, "succeeded", amount=amount)
        for delivery in (created, created, charged):
            world.core.payments.handle_webhook("fake", *delivery)
        (refund,) = self._refunds(world, booking)
        assert refund.provider_reference == "re_d"
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert (paid.status, paid.refunded_amount) == (PaymentStatus.REFUNDED, amount)
        documents = world.core.payments.invoices_for(booking.id, principal=ADMIN)
        assert len(documents) == 2

    def test_one_announced_pending_is_reserved_then_settled(self, world: World) -> None:
        booking, reference = self._paid(world)
        amount = Money("2000", "INR")
        world.core.payments.handle_webhook(
            "fake", *world.provider.refund_webhook("re_p", reference, "pending", amount=amount)
        )
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert paid.pending_refund_amount == amount
        assert paid.refundable_amount == Money("6000", "INR")
        world.core.payments.handle_webhook(
            "fake", *world.provider.refund_webhook("re_p", reference, "succeeded", amount=amount)
        )
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert (paid.refunded_amount, paid.pending_refund_amount) == (amount, Money("0", "INR"))
        (refund,) = self._refunds(world, booking)
        assert refund.status is RefundStatus.SUCCEEDED

    def test_one_for_more_than_is_left_is_recorded_and_flagged(self, world: World) -> None:
        booking, reference = self._paid(world)
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        world.core.payments.refund(
            payment.id, Money("5000", "INR"), principal=ADMIN, idempotency_key="desk"
        )
        too_much = Money("4000", "INR")  # 3000 is left
        receipt = world.core.payments.handle_webhook(
            "fake", *world.provider.refund_webhook("re_x", reference, "succeeded", amount=too_much)
        )
        assert receipt.status is ReceiptStatus.FAILED
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert paid.refunded_amount == Money("5000", "INR")  # the books still add up
        assert "re_x" in paid.attention[0].text
        refunds = self._refunds(world, booking)
        flagged = [r for r in refunds if r.provider_reference == "re_x"]
        assert len(flagged) == 1
        assert flagged[0].amount == too_much
        assert flagged[0].status is RefundStatus.UNRECONCILED
        again = world.core.payments.handle_webhook(
            "fake", *world.provider.refund_webhook("re_x", reference, "succeeded", amount=too_much)
        )
        assert again.status is ReceiptStatus.APPLIED
        assert len(self._refunds(world, booking)) == 2

    def test_a_failed_refund_the_library_never_knew_changes_nothing(self, world: World) -> None:
        booking, reference = self._paid(world)
        world.core.payments.handle_webhook(
            "fake",
            *world.provider.refund_webhook("re_f", reference, "failed", amount=Money("100", "INR")),
        )
        # Kept as failed, counted nowhere: its pending report arriving late moves nothing.
        (kept,) = self._refunds(world, booking)
        assert (kept.status, kept.provider_status) == (RefundStatus.FAILED, RefundStatus.FAILED)
        world.core.payments.handle_webhook(
            "fake",
            *world.provider.refund_webhook(
                "re_f", reference, "pending", amount=Money("100", "INR")
            ),
        )
        assert [r.status for r in self._refunds(world, booking)] == [RefundStatus.FAILED]
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert payment.status is PaymentStatus.CAPTURED
        assert (payment.refunded_amount, payment.pending_refund_amount) == (
            Money("0", "INR"),
            Money("0", "INR"),
        )

    def test_a_webhook_naming_the_library_refund_by_its_key_settles_it(self, world: World) -> None:
        booking, reference = self._paid(world)
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        world.provider.refunds_settle_later = True
        refund = world.core.payments.refund(
            payment.id, Money("1000", "INR"), principal=ADMIN, idempotency_key="r"
        )
        # As if the provider's answer had been lost: the reference was never stored.
        with world.store.unit_of_work() as uow:
            stored = uow.refunds.get(refund.id)
            assert stored is not None
            stored.provider_reference = None
            stored.version += 1
            uow.commit()
        world.core.payments.handle_webhook(
            "fake",
            *world.provider.refund_webhook(
                "re_lost", reference, "succeeded", amount=refund.amount, key=str(refund.id)
            ),
        )
        (only,) = self._refunds(world, booking)
        assert only.id == refund.id
        assert only.status is RefundStatus.SUCCEEDED
        assert only.provider_reference == "re_lost"


class TestUnreconciledRefunds:
    """A refund the books could not hold: applied when the capture comes, or by staff."""

    def _intent(self, world: World) -> tuple[Booking, str]:
        return world.book_with_an_intent()

    def _refund_at_provider(self, world: World, ref: str, reference: str, amount: str) -> None:
        world.core.payments.handle_webhook(
            "fake",
            *world.provider.refund_webhook(
                ref, reference, "succeeded", amount=Money(amount, "INR")
            ),
        )

    def _refund(self, world: World, booking: Booking, ref: str) -> Refund:
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        with world.store.unit_of_work() as uow:
            (found,) = [
                r for r in uow.refunds.list_for_payment(payment.id) if r.provider_reference == ref
            ]
            return found

    def test_a_refund_before_its_capture_is_applied_when_the_capture_comes(
        self, world: World
    ) -> None:
        booking, reference = self._intent(world)
        self._refund_at_provider(world, "re_early", reference, "3000")
        assert self._refund(world, booking, "re_early").status is RefundStatus.UNRECONCILED
        (flagged,) = world.core.payments.needing_attention(principal=ADMIN)
        assert [r.provider_reference for r in flagged.unreconciled_refunds] == ["re_early"]

        world.core.payments.handle_webhook("fake", *world.provider.webhook("captured", reference))

        refund = self._refund(world, booking, "re_early")
        assert refund.status is RefundStatus.SUCCEEDED
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert (paid.status, paid.refunded_amount) == (
            PaymentStatus.PARTIALLY_REFUNDED,
            Money("3000", "INR"),
        )
        assert paid.attention == ()
        invoice, credit = world.core.payments.invoices_for(booking.id, principal=ADMIN)
        assert (credit.refund_id, credit.credited_invoice_id) == (refund.id, invoice.id)
        assert world.core.payments.needing_attention(principal=ADMIN) == []

    def test_one_that_still_does_not_fit_stays_unreconciled_and_flagged(self, world: World) -> None:
        booking, reference = self._intent(world)
        self._refund_at_provider(world, "re_fits", reference, "3000")
        self._refund_at_provider(world, "re_big", reference, "9000")  # 8000 will be captured
        world.core.payments.handle_webhook("fake", *world.provider.webhook("captured", reference))
        assert self._refund(world, booking, "re_fits").status is RefundStatus.SUCCEEDED
        assert self._refund(world, booking, "re_big").status is RefundStatus.UNRECONCILED
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert paid.refunded_amount == Money("3000", "INR")
        assert "re_big" in paid.attention[0].text

    def test_staff_dismiss_one_with_a_note_and_the_flag_clears(self, world: World) -> None:
        booking, reference = self._intent(world)
        world.core.payments.handle_webhook("fake", *world.provider.webhook("captured", reference))
        self._refund_at_provider(world, "re_big", reference, "9000")
        refund = self._refund(world, booking, "re_big")
        payments = world.core.payments
        with pytest.raises(ValidationError) as missing:
            payments.resolve_refund(refund.id, "dismiss", principal=ADMIN, note="  ")
        assert missing.value.fields == ("note",)
        dismissed = payments.resolve_refund(
            refund.id, "dismiss", principal=ADMIN, note="charged back by the bank; see ticket 7"
        )
        assert dismissed.status is RefundStatus.DISMISSED
        assert "ticket 7" in (dismissed.failure_reason or "")
        (paid,) = payments.for_booking(booking.id, principal=ADMIN)
        assert paid.refunded_amount == Money("0", "INR")
        assert paid.attention == ()
        assert payments.needing_attention(principal=ADMIN) == []
        trail = world.core.audit.trail("payment", paid.id, principal=ADMIN)
        assert any(e.new_values.get("status") == "dismissed" for e in trail)
        again = payments.resolve_refund(refund.id, "dismiss", principal=ADMIN, note="again")
        assert again.status is RefundStatus.DISMISSED
        assert "ticket 7" in (again.failure_reason or "")
        with pytest.raises(InvalidTransitionError):
            payments.resolve_refund(refund.id, "apply", principal=ADMIN)

    def test_staff_apply_one_once_it_fits(self, world: World) -> None:
        booking, reference = self._intent(world)
        world.core.payments.handle_webhook("fake", *world.provider.webhook("captured", reference))
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        world.provider.refunds_settle_later = True
        desk = world.core.payments.refund(
            payment.id, Money("6000", "INR"), principal=ADMIN, idempotency_key="desk"
        )
        self._refund_at_provider(world, "re_d", reference, "4000")  # 2000 left
        refund = self._refund(world, booking, "re_d")
        with pytest.raises(ValidationError) as refused:
            world.core.payments.resolve_refund(refund.id, "apply", principal=ADMIN)
        assert refused.value.fields == ("amount",)
        # The desk refund fails at the provider: its 6000 are freed.
        assert desk.provider_reference is not None
        world.core.payments.handle_webhook(
            "fake",
            *world.provider.refund_webhook(
                desk.provider_reference, reference, "failed", amount=desk.amount
            ),
        )
        applied = world.core.payments.resolve_refund(refund.id, "apply", principal=ADMIN)
        assert applied.status is RefundStatus.SUCCEEDED
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert paid.refunded_amount == Money("4000", "INR")
        assert paid.attention == ()
        _, credit = world.core.payments.invoices_for(booking.id, principal=ADMIN)
        assert credit.refund_id == refund.id
        retried = world.core.payments.resolve_refund(refund.id, "apply", principal=ADMIN)
        assert retried.status is RefundStatus.SUCCEEDED
        assert len(world.core.payments.invoices_for(booking.id, principal=ADMIN)) == 2

    def test_bad_input_and_other_principals_are_refused(self, world: World) -> None:
        booking, reference = self._intent(world)
        self._refund_at_provider(world, "re_early", reference, "100")
        refund = self._refund(world, booking, "re_early")
        payments = world.core.payments
        with pytest.raises(PermissionDeniedError):
            payments.resolve_refund(refund.id, "apply", principal=world.me)
        with pytest.raises(PermissionDeniedError):
            payments.needing_attention(principal=world.me)
        with pytest.raises(ValidationError) as bad:
            payments.resolve_refund(refund.id, "forget", principal=ADMIN)  # type: ignore[arg-type]
        assert bad.value.fields == ("action",)
        with pytest.raises(ValidationError) as bad_limit:
            payments.needing_attention(principal=ADMIN, limit=0)
        assert bad_limit.value.fields == ("limit",)
        with pytest.raises(NotFoundError):
            payments.resolve_refund(RefundId(uuid4()), "apply", principal=ADMIN)
        with pytest.raises(InvalidTransitionError):  # nothing captured yet
            payments.resolve_refund(refund.id, "apply", principal=ADMIN)

    def test_a_late_payment_refunds_only_what_the_provider_did_not_give_back(self) -> None:
        world = World(PaymentSettings(late_payments="refund"))
        booking, reference = self._intent(world)
        world.core.bookings.cancel(booking.id, principal=world.me)
        self._refund_at_provider(world, "re_early", reference, "3000")
        world.core.payments.handle_webhook("fake", *world.provider.webhook("captured", reference))
        assert self._refund(world, booking, "re_early").status is RefundStatus.SUCCEEDED
        (paid,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        assert (paid.status, paid.refunded_amount) == (
            PaymentStatus.REFUNDED,
            Money("8000", "INR"),
        )


def test_money_for_a_booking_whose_paid_state_finds_the_slot_full_is_still_recorded() -> None:
    """A lifecycle whose paid state takes seats (a request confirmed by its payment): on a
    full slot the payment is recorded and the booking waits where it is."""
    requests = Lifecycle(
        name="requests",
        states=("requested", "confirmed", "done", "cancelled"),
        initial="requested",
        transitions={"requested": {"confirmed", "cancelled"}, "confirmed": {"done", "cancelled"}},
        terminal={"done", "cancelled"},
        holding={"confirmed", "done"},
        cancelled="cancelled",
    )
    store, clock = MemoryStore(), FixedClock()
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    core = BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(
            default_region="IN",
            lifecycles={**PRESETS, "requests": requests},
            default_lifecycle="requests",
        ),
        payment_providers=[ManualProvider()],
    )
    camp = core.catalog.add_location("CAMP", "Base camp", principal=admin)
    slot = core.catalog.create_slot(
        location_id=camp.id,
        starts_at=clock.now() + timedelta(days=10),
        price_per_traveler=Money("1000", "INR"),
        capacity=1,
        principal=admin,
    )
    customer = core.customers.register("+919812300001", principal=admin, name="Asha Rao")
    first, second = (
        core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails(name), is_primary=True)],
                customer_id=customer.customer.id,
            ),
            principal=admin,
        )
        for name in ("Asha Rao", "Ravi Rao")
    )
    core.payments.record_manual_payment(
        first.id, Money("1000", "INR"), principal=admin, reference="CASH-1"
    )
    core.payments.record_manual_payment(
        second.id, Money("1000", "INR"), principal=admin, reference="CASH-2"
    )
    assert core.bookings.get(first.id, principal=admin).status == "confirmed"
    assert core.bookings.get(second.id, principal=admin).status == "requested"
    with store.unit_of_work() as uow:
        paid = [p.captured_amount for p in uow.payments.list_for_booking(second.id)]
        assert paid == [Money("1000", "INR")]
        stored = uow.slots.get(slot.id)
        assert stored is not None
        assert stored.seats_held == 1
