"""The in-memory FakePaymentProvider answers the mistakes every shipped provider refuses alike."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from uuid import uuid4

import pytest
from tests.adapters._provider_mistakes import (
    AMOUNT_NOT_ABOVE_ZERO,
    BODY_NOT_AN_EVENT,
    KEY_MISSING,
    REFERENCE_MISSING,
    REFUND_NOT_CAPTURED,
    blank_references_refused,
    refused,
)

from bookingcore.domain.payments import PaymentStatus
from bookingcore.domain.values import BookingId, Money, PaymentId
from bookingcore.errors import AuthenticationError, ValidationError
from bookingcore.ports.payments import IntentRequest, PaymentProvider
from bookingcore.testing import FakePaymentProvider

SECRET = "fake-webhook-secret"  # the fake's default signing key


def _request(amount: str = "1500.00", key: str = "key-1") -> IntentRequest:
    return IntentRequest(
        payment_id=PaymentId(uuid4()),
        booking_id=BookingId(uuid4()),
        amount=Money(Decimal(amount), "INR"),
        idempotency_key=key,
    )


def _signed(body: bytes) -> dict[str, str]:
    return {"X-Fake-Signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}


class TestTheMistakesEveryProviderAnswersAlike:
    @pytest.mark.parametrize("amount", ["0", "-1.00"])
    def test_an_amount_not_above_zero_is_refused_on_amount(self, amount: str) -> None:
        provider: PaymentProvider = FakePaymentProvider()
        with pytest.raises(ValidationError) as intent:
            provider.create_intent(_request(amount))
        assert refused(intent) == AMOUNT_NOT_ABOVE_ZERO
        with pytest.raises(ValidationError) as refund:
            provider.refund("pi_fake_1", Money(Decimal(amount), "INR"), idempotency_key="r-1")
        assert refused(refund) == AMOUNT_NOT_ABOVE_ZERO

    def test_an_empty_key_is_refused_on_idempotency_key(self) -> None:
        provider = FakePaymentProvider()
        with pytest.raises(ValidationError) as intent:
            provider.create_intent(_request(key=" "))
        assert refused(intent) == KEY_MISSING
        with pytest.raises(ValidationError) as refund:
            provider.refund("pi_fake_1", Money(Decimal(1), "INR"), idempotency_key="")
        assert refused(refund) == KEY_MISSING
        assert provider.calls == []

    def test_a_blank_reference_is_refused_on_reference(self) -> None:
        provider = FakePaymentProvider()
        assert blank_references_refused(provider) == [REFERENCE_MISSING, REFERENCE_MISSING]
        assert provider.calls == []

    @pytest.mark.parametrize("status", ["pending", "requires_action", "authorized", "failed"])
    def test_a_refund_of_an_intent_that_took_no_money_is_refused_on_reference(
        self, status: str
    ) -> None:
        provider = FakePaymentProvider()
        reference = provider.create_intent(_request()).reference
        provider.set_state(reference, status)
        with pytest.raises(ValidationError) as caught:
            provider.refund(reference, Money(Decimal(1), "INR"), idempotency_key="r-1")
        assert refused(caught) == REFUND_NOT_CAPTURED
        provider.webhook("captured", reference)  # its copy took the money: refundable
        made = provider.refund(reference, Money(Decimal(1), "INR"), idempotency_key="r-1")
        assert made.amount == Money(Decimal(1), "INR")
        # A reference it never made (a manual payment's receipt) is someone else's to know.
        assert provider.refund("CASH-1", Money(Decimal(1), "INR"), idempotency_key="r-2")

    @pytest.mark.parametrize(
        "body",
        [
            b"not json",
            b"\xff\xfe",
            b"[1, 2]",
            b'{"type": "payment.captured"}',
            b'{"id": "evt_1", "type": "payment.x", "status": "nonsense"}',
            b'{"id": "evt_1", "type": "payment.captured", "amount": "1.5"}',
            b'{"id": "evt_1", "type": "refund.x", "refund": "re_1", "refund_status": "odd"}',
        ],
    )
    def test_a_verified_body_that_is_not_an_event_is_refused_on_raw_body(self, body: bytes) -> None:
        with pytest.raises(ValidationError) as caught:
            FakePaymentProvider().parse_webhook(_signed(body), body)
        assert refused(caught) == BODY_NOT_AN_EVENT

    def test_a_body_that_is_not_bytes_or_a_wrong_signature_is_refused(self) -> None:
        provider = FakePaymentProvider()
        headers, body = provider.webhook("captured", "pi_fake_1")
        with pytest.raises(AuthenticationError, match="raw bytes"):
            provider.parse_webhook(headers, body.decode())  # type: ignore[arg-type]
        with pytest.raises(AuthenticationError):
            provider.parse_webhook({"X-Fake-Signature": "é"}, body)

    def test_its_own_deliveries_are_still_read(self) -> None:
        provider = FakePaymentProvider()
        intent = provider.create_intent(_request())
        amount = Money(Decimal("1500.00"), "INR")
        event = provider.parse_webhook(
            *provider.webhook("captured", intent.reference, amount=amount)
        )
        assert (event.status, event.amount) == (PaymentStatus.CAPTURED, amount)
