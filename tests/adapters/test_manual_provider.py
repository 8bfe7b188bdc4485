"""The manual provider: deterministic references, honest capabilities, no webhooks."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest
from tests.adapters._provider_mistakes import (
    AMOUNT_NOT_ABOVE_ZERO,
    KEY_MISSING,
    REFERENCE_MISSING,
    REFUND_NOT_CAPTURED,
    blank_references_refused,
    refused,
)

import bookingcore_adapters.payments as payments
from bookingcore.domain.payments import PaymentStatus, RefundStatus
from bookingcore.domain.values import BookingId, Money, PaymentId
from bookingcore.errors import AuthenticationError, NotFoundError, ValidationError
from bookingcore.ports.payments import IntentRequest, PaymentProvider, ProviderCapabilities
from bookingcore_adapters.payments import ManualProvider


def _request(key: str = "key-1", amount: str = "1500.00", currency: str = "INR") -> IntentRequest:
    return IntentRequest(
        payment_id=PaymentId(uuid4()),
        booking_id=BookingId(uuid4()),
        amount=Money(Decimal(amount), currency),
        idempotency_key=key,
    )


class TestPackage:
    def test_the_package_exports_only_the_manual_provider_and_imports_no_sdk(self) -> None:
        assert payments.__all__ == ["ManualProvider"]
        assert payments.__doc__
        assert "RazorpayProvider" in payments.__doc__
        assert "StripeProvider" in payments.__doc__

    def test_it_satisfies_the_port(self) -> None:
        provider: PaymentProvider = ManualProvider()
        assert provider.name == "manual"


class TestCapabilities:
    def test_refunds_at_the_desk_without_redirect_capture_later_webhooks_or_fetching(
        self,
    ) -> None:
        assert ManualProvider().capabilities == ProviderCapabilities(
            refunds=True,
            partial_refunds=True,
            needs_redirect=False,
            capture_later=False,
            webhooks=False,
            fetch_state=False,
        )


class TestCreateIntent:
    def test_a_pending_intent_for_the_amount_without_client_secret(self) -> None:
        request = _request()
        intent = ManualProvider().create_intent(request)
        assert intent.status is PaymentStatus.PENDING
        assert intent.amount == request.amount
        assert intent.client_secret is None
        assert intent.redirect_url is None
        assert intent.reference.startswith("manual_")

    def test_the_same_key_gives_the_same_reference_even_in_another_instance(self) -> None:
        first = ManualProvider().create_intent(_request("same-key"))
        again = ManualProvider().create_intent(_request("same-key"))
        assert first.reference == again.reference

    def test_another_key_gives_another_reference(self) -> None:
        provider = ManualProvider()
        a = provider.create_intent(_request("key-a"))
        b = provider.create_intent(_request("key-b"))
        assert a.reference != b.reference

    def test_an_empty_key_or_a_zero_amount_is_refused_by_field(self) -> None:
        with pytest.raises(ValidationError) as empty:
            ManualProvider().create_intent(_request(key=" "))
        assert refused(empty) == KEY_MISSING
        with pytest.raises(ValidationError) as zero:
            ManualProvider().create_intent(_request(amount="0"))
        assert refused(zero) == AMOUNT_NOT_ABOVE_ZERO


class TestFetch:
    def test_an_intent_made_here_is_pending_with_nothing_captured(self) -> None:
        provider = ManualProvider()
        intent = provider.create_intent(_request(amount="12.500", currency="KWD"))
        payment = provider.fetch(intent.reference)
        assert payment.reference == intent.reference
        assert payment.status is PaymentStatus.PENDING
        assert payment.amount == Money(Decimal("12.500"), "KWD")
        assert payment.captured == Money.zero("KWD")

    def test_a_reference_made_by_another_process_is_not_found(self) -> None:
        reference = ManualProvider().create_intent(_request("elsewhere")).reference
        with pytest.raises(NotFoundError):
            ManualProvider().fetch(reference)


class TestRefund:
    def test_a_refund_succeeds_at_once_with_a_reference_per_key(self) -> None:
        provider = ManualProvider()
        amount = Money(Decimal("500.00"), "INR")
        refund = provider.refund("manual_x", amount, idempotency_key="rf-1", reason="rain")
        again = ManualProvider().refund("manual_x", amount, idempotency_key="rf-1")
        other = provider.refund("manual_x", amount, idempotency_key="rf-2")
        assert refund.status is RefundStatus.SUCCEEDED
        assert refund.amount == amount
        assert refund.reference == again.reference
        assert refund.reference != other.reference

    def test_a_refund_of_nothing_is_refused_on_amount(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ManualProvider().refund("manual_x", Money.zero("INR"), idempotency_key="rf-1")
        assert refused(caught) == AMOUNT_NOT_ABOVE_ZERO
        with pytest.raises(ValidationError) as no_key:
            ManualProvider().refund("manual_x", Money(Decimal(1), "INR"), idempotency_key="")
        assert refused(no_key) == KEY_MISSING

    def test_a_blank_reference_is_refused_on_reference(self) -> None:
        blank = blank_references_refused(ManualProvider())
        assert blank == [REFERENCE_MISSING, REFERENCE_MISSING]

    def test_a_refund_of_an_intent_it_made_is_refused_on_reference(self) -> None:
        # Staff record manual payments themselves: an intent made here never took money.
        provider = ManualProvider()
        reference = provider.create_intent(_request()).reference
        with pytest.raises(ValidationError) as caught:
            provider.refund(reference, Money(Decimal(1), "INR"), idempotency_key="rf-1")
        assert refused(caught) == REFUND_NOT_CAPTURED


class TestWebhooks:
    def test_every_delivery_is_refused(self) -> None:
        with pytest.raises(AuthenticationError, match="receives no webhooks"):
            ManualProvider().parse_webhook({"X-Anything": "1"}, b"{}")
