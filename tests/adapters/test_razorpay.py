"""RazorpayProvider against a local fake of Razorpay's API, and its webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from tests._payable import Payable
from tests._threads import at_once
from tests.adapters._fake_razorpay import KEY_ID, KEY_SECRET, FakeRazorpay
from tests.adapters._provider_mistakes import (
    AMOUNT_BELOW_MINIMUM,
    AMOUNT_NOT_ABOVE_ZERO,
    BODY_NOT_AN_EVENT,
    KEY_MISSING,
    REFERENCE_MISSING,
    REFUND_ABOVE_WHAT_IS_LEFT,
    REFUND_NOT_CAPTURED,
    blank_references_refused,
    refused,
)

from bookingcore import (
    BookingCore,
    Principal,
    StaffId,
    StaffRole,
)
from bookingcore.domain import Booking, ReceiptStatus
from bookingcore.domain.payments import PaymentStatus, RefundStatus
from bookingcore.domain.values import BookingId, Money, PaymentId
from bookingcore.errors import (
    AuthenticationError,
    BookingError,
    IdempotencyConflictError,
    NotFoundError,
    PaymentProviderError,
    ValidationError,
)
from bookingcore.ports.payments import IntentRequest, PaymentProvider, ProviderCapabilities
from bookingcore.services import PaymentIntent
from bookingcore_adapters.payments import razorpay as razorpay_module
from bookingcore_adapters.payments.razorpay import RazorpayProvider

WEBHOOK_SECRET = "whsec-razorpay-test"
ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


@pytest.fixture
def fake() -> Iterator[FakeRazorpay]:
    with FakeRazorpay().running() as server:
        yield server


@pytest.fixture
def provider(fake: FakeRazorpay) -> Iterator[RazorpayProvider]:
    provider = RazorpayProvider(KEY_ID, KEY_SECRET, WEBHOOK_SECRET, base_url=fake.base_url)
    yield provider
    provider.close()


def _request(
    amount: str = "1500.00", currency: str = "INR", key: str = "intent-key-1", **extra: object
) -> IntentRequest:
    return IntentRequest(
        payment_id=PaymentId(uuid4()),
        booking_id=BookingId(uuid4()),
        amount=Money(Decimal(amount), currency),
        idempotency_key=key,
        **extra,  # type: ignore[arg-type]
    )


def _sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    """Sign the way Razorpay does: hex HMAC-SHA256 of the raw body under the webhook secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _delivery(event: str, payload: dict[str, object], created_at: int = 1_767_000_000) -> bytes:
    # Razorpay's own layout: compact separators are not required; the bytes are what count.
    body = {
        "entity": "event",
        "account_id": "acc_BFQ7uQEaa7j2z7",
        "event": event,
        "contains": sorted(payload),
        "payload": payload,
        "created_at": created_at,
    }
    return json.dumps(body, indent=2).encode()


def _payment_entity(status: str, amount: int = 150000, currency: str = "INR") -> dict[str, object]:
    return {
        "entity": {
            "id": "pay_DESlfW9H8K9uqM",
            "entity": "payment",
            "amount": amount,
            "currency": currency,
            "status": status,
            "order_id": "order_DESlLckIVRkHWj",
            "method": "upi",
            "captured": status == "captured",
        }
    }


def _headers(body: bytes, event_id: str = "evt_1") -> dict[str, str]:
    return {"X-Razorpay-Signature": _sign(body), "X-Razorpay-Event-Id": event_id}


class TestConstruction:
    def test_it_satisfies_the_port_and_says_what_it_can_do(
        self, provider: RazorpayProvider
    ) -> None:
        port: PaymentProvider = provider
        assert port.name == "razorpay"
        assert provider.capabilities == ProviderCapabilities(
            refunds=True,
            partial_refunds=True,
            needs_redirect=True,
            capture_later=True,
            webhooks=True,
            fetch_state=True,
        )

    def test_the_module_exports_the_provider_documented(self) -> None:
        assert razorpay_module.__all__ == ["RazorpayProvider"]
        assert razorpay_module.__doc__
        assert RazorpayProvider.__doc__

    @pytest.mark.parametrize("field", ["key_id", "key_secret", "webhook_secret"])
    def test_an_empty_credential_is_refused_by_name(self, field: str) -> None:
        args = {"key_id": KEY_ID, "key_secret": KEY_SECRET, "webhook_secret": WEBHOOK_SECRET}
        args[field] = ""
        with pytest.raises(ValidationError) as caught:
            RazorpayProvider(**args)
        assert caught.value.fields == (field,)

    def test_its_repr_shows_no_secret(self, provider: RazorpayProvider) -> None:
        assert KEY_SECRET not in repr(provider)
        assert WEBHOOK_SECRET not in repr(provider)


class TestCreateIntent:
    @pytest.mark.parametrize(
        ("amount", "currency", "units"),
        [("1500.50", "INR", 150050), ("1050", "JPY", 1050), ("12.345", "KWD", 12345)],
    )
    def test_the_order_is_for_the_amount_in_minor_units(
        self,
        fake: FakeRazorpay,
        provider: RazorpayProvider,
        amount: str,
        currency: str,
        units: int,
    ) -> None:
        request = _request(amount, currency)
        intent = provider.create_intent(request)
        order = fake.orders[intent.reference]
        assert order["amount"] == units
        assert order["currency"] == currency
        assert intent.amount == request.amount
        assert intent.status is PaymentStatus.PENDING
        assert intent.client_secret == intent.reference
        assert intent.reference.startswith("order_")

    def test_the_request_is_json_with_basic_auth_and_notes_naming_the_booking(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        request = _request(metadata={"channel": "web"}, description="Hampta Pass, 12 June")
        intent = provider.create_intent(request)
        create = next(r for r in fake.requests if r["method"] == "POST")
        assert create["path"] == "/v1/orders"
        assert create["headers"]["content-type"] == "application/json"
        assert create["body"]["amount"] == 150000
        notes = fake.orders[intent.reference]["notes"]
        assert notes == {
            "channel": "web",
            "description": "Hampta Pass, 12 June",
            "booking_id": str(request.booking_id),
            "payment_id": str(request.payment_id),
        }
        assert len(create["body"]["receipt"]) <= 40

    def test_a_retry_with_the_same_key_returns_the_first_order(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        first = provider.create_intent(_request(key="retry-key"))
        again = provider.create_intent(_request(key="retry-key"))
        other = provider.create_intent(_request(key="another-key"))
        assert again.reference == first.reference
        assert other.reference != first.reference
        assert len(fake.orders) == 2

    def test_a_retry_after_payment_answers_the_captured_order(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        first = provider.create_intent(_request(key="paid-key"))
        fake.pay(first.reference)
        again = provider.create_intent(_request(key="paid-key"))
        assert again.reference == first.reference
        assert again.status is PaymentStatus.CAPTURED

    def test_the_same_key_for_another_amount_is_an_idempotency_conflict(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        provider.create_intent(_request("100.00", key="conflict-key"))
        with pytest.raises(IdempotencyConflictError):
            provider.create_intent(_request("200.00", key="conflict-key"))
        assert len(fake.orders) == 1

    def test_bad_input_is_refused_before_razorpay_is_asked(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        with pytest.raises(ValidationError) as zero:
            provider.create_intent(_request("0"))
        assert refused(zero) == AMOUNT_NOT_ABOVE_ZERO
        with pytest.raises(ValidationError) as no_key:
            provider.create_intent(_request(key=" "))
        assert refused(no_key) == KEY_MISSING
        with pytest.raises(ValidationError) as notes:
            provider.create_intent(_request(metadata={f"k{i}": "v" for i in range(14)}))
        assert notes.value.fields == ("metadata",)
        with pytest.raises(ValidationError) as long_note:
            provider.create_intent(_request(metadata={"k": "v" * 257}))
        assert long_note.value.fields == ("metadata",)
        assert fake.requests == []

    def test_an_amount_below_razorpays_minimum_is_a_validation_error_on_amount(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        # As Stripe answers its amount_too_small: the host handles one error for both.
        with pytest.raises(ValidationError) as caught:
            provider.create_intent(_request("0.50"))
        assert refused(caught) == AMOUNT_BELOW_MINIMUM
        assert "The amount must be atleast INR 1.00" in caught.value.message
        assert fake.requests[-1]["path"] == "/v1/orders"  # Razorpay was asked, and refused
        assert fake.orders == {}

    @pytest.mark.parametrize(
        ("description", "code"),
        [
            ("The amount must be atleast USD 0.50", "amount_too_small"),
            ("Amount exceeds maximum amount allowed.", "amount_too_large"),
            ("The amount must be an integer.", "refused_by_provider"),
        ],
    )
    def test_razorpays_refusal_of_the_amount_keeps_its_words(
        self, fake: FakeRazorpay, provider: RazorpayProvider, description: str, code: str
    ) -> None:
        fake.fail_next(200, raw='{"entity": "collection", "count": 0, "items": []}')  # look-up
        fake.fail_next(400, "BAD_REQUEST_ERROR", description, "amount")
        with pytest.raises(ValidationError) as caught:
            provider.create_intent(_request())
        assert refused(caught) == ("amount", code)
        assert description in caught.value.message

    def test_razorpays_refusal_of_another_field_names_it_and_is_not_retryable(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        with pytest.raises(PaymentProviderError) as caught:
            provider.create_intent(_request(currency="GBP"))
        assert caught.value.provider == "razorpay"
        assert caught.value.reason == "BAD_REQUEST_ERROR"
        assert caught.value.retryable is False
        assert "field currency" in caught.value.message
        assert "HTTP 400" in caught.value.message


class TestFetch:
    def test_a_new_order_is_pending_with_nothing_captured(self, provider: RazorpayProvider) -> None:
        intent = provider.create_intent(_request())
        payment = provider.fetch(intent.reference)
        assert payment.status is PaymentStatus.PENDING
        assert payment.captured == Money.zero("INR")
        assert payment.amount == Money(Decimal("1500.00"), "INR")

    def test_a_captured_payment_makes_the_order_captured(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        intent = provider.create_intent(_request("1050", "JPY"))
        fake.pay(intent.reference, "failed")
        fake.pay(intent.reference, "captured")
        payment = provider.fetch(intent.reference)
        assert payment.reference == intent.reference
        assert payment.status is PaymentStatus.CAPTURED
        assert payment.captured == Money(Decimal(1050), "JPY")

    def test_an_authorized_payment_makes_the_order_authorized(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        intent = provider.create_intent(_request())
        fake.pay(intent.reference, "authorized")
        assert provider.fetch(intent.reference).status is PaymentStatus.AUTHORIZED

    def test_an_order_whose_attempts_all_failed_is_failed_with_the_reason(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        intent = provider.create_intent(_request())
        fake.pay(intent.reference, "failed")
        payment = provider.fetch(intent.reference)
        assert payment.status is PaymentStatus.FAILED
        assert payment.failure_reason == "Payment was declined by the bank"

    def test_refunds_show_as_partially_refunded_then_refunded(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        intent = provider.create_intent(_request("1000.00"))
        fake.pay(intent.reference)
        provider.refund(intent.reference, Money(Decimal("400.00"), "INR"), idempotency_key="rf-1a")
        assert provider.fetch(intent.reference).status is PaymentStatus.PARTIALLY_REFUNDED
        provider.refund(intent.reference, Money(Decimal("600.00"), "INR"), idempotency_key="rf-2a")
        assert provider.fetch(intent.reference).status is PaymentStatus.REFUNDED

    def test_an_unknown_order_is_not_found(self, provider: RazorpayProvider) -> None:
        with pytest.raises(NotFoundError) as caught:
            provider.fetch("order_DoesNotExist01")
        assert caught.value.key == "order_DoesNotExist01"


class TestRefund:
    def test_a_partial_refund_goes_to_the_captured_payment_with_the_idempotency_header(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        intent = provider.create_intent(_request("1500.00"))
        payment_id = fake.pay(intent.reference)
        refund = provider.refund(
            intent.reference,
            Money(Decimal("500.25"), "INR"),
            idempotency_key="refund-key-1",
            reason="weather",
        )
        assert refund.status is RefundStatus.SUCCEEDED
        assert refund.amount == Money(Decimal("500.25"), "INR")
        assert refund.reference.startswith("rfnd_")
        post = [r for r in fake.requests if r["path"].endswith("/refund")]
        assert [r["path"] for r in post] == [f"/v1/payments/{payment_id}/refund"]
        assert post[0]["body"]["amount"] == 50025
        assert post[0]["body"]["notes"]["reason"] == "weather"
        header = post[0]["headers"]["x-refund-idempotency"]
        assert len(header) >= 10
        assert all(c.isalnum() or c in "-_" for c in header)
        assert fake.payments[payment_id]["amount_refunded"] == 50025

    def test_a_retried_refund_is_refunded_once(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        intent = provider.create_intent(_request("1500.00"))
        payment_id = fake.pay(intent.reference)
        amount = Money(Decimal("100.00"), "INR")
        first = provider.refund(intent.reference, amount, idempotency_key="refund-retry")
        again = provider.refund(intent.reference, amount, idempotency_key="refund-retry")
        assert again.reference == first.reference
        assert len(fake.refunds) == 1
        assert fake.payments[payment_id]["amount_refunded"] == 10000

    def test_a_retried_full_refund_answers_the_first_refund(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        intent = provider.create_intent(_request("1050", "JPY"))
        fake.pay(intent.reference)
        amount = Money(Decimal(1050), "JPY")
        first = provider.refund(intent.reference, amount, idempotency_key="refund-all")
        again = provider.refund(intent.reference, amount, idempotency_key="refund-all")
        assert again.reference == first.reference
        assert len(fake.refunds) == 1

    def test_the_same_key_for_another_refund_is_an_idempotency_conflict(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        intent = provider.create_intent(_request("1000.00"))
        fake.pay(intent.reference)
        provider.refund(intent.reference, Money(Decimal(10), "INR"), idempotency_key="reused-key")
        with pytest.raises(IdempotencyConflictError):
            provider.refund(
                intent.reference, Money(Decimal(20), "INR"), idempotency_key="reused-key"
            )
        assert len(fake.refunds) == 1

    def test_a_full_refund_of_a_kwd_payment_by_payment_id(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        intent = provider.create_intent(_request("7.125", "KWD"))
        payment_id = fake.pay(intent.reference)
        refund = provider.refund(payment_id, Money(Decimal("7.125"), "KWD"), idempotency_key="k-1")
        assert refund.amount == Money(Decimal("7.125"), "KWD")
        assert fake.payments[payment_id]["status"] == "refunded"

    def test_more_than_what_is_left_or_another_currency_is_refused_on_amount(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        intent = provider.create_intent(_request("1000.00"))
        fake.pay(intent.reference)
        with pytest.raises(ValidationError) as too_much:
            provider.refund(
                intent.reference, Money(Decimal("1000.01"), "INR"), idempotency_key="a-1"
            )
        assert refused(too_much) == REFUND_ABOVE_WHAT_IS_LEFT
        with pytest.raises(ValidationError) as currency:
            provider.refund(intent.reference, Money(Decimal("10"), "USD"), idempotency_key="a-2")
        assert currency.value.fields == ("amount",)
        assert fake.refunds == {}

    def test_an_order_without_a_captured_payment_cannot_be_refunded(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        intent = provider.create_intent(_request())
        with pytest.raises(ValidationError) as unpaid:
            provider.refund(intent.reference, Money(Decimal("1"), "INR"), idempotency_key="n-0")
        assert refused(unpaid) == REFUND_NOT_CAPTURED
        payment_id = fake.pay(intent.reference, "authorized")
        for reference in (intent.reference, payment_id):
            with pytest.raises(ValidationError) as caught:
                provider.refund(reference, Money(Decimal("1"), "INR"), idempotency_key="n-1")
            assert refused(caught) == REFUND_NOT_CAPTURED
        assert fake.refunds == {}

    def test_a_blank_reference_is_refused_before_razorpay_is_asked(
        self, provider: RazorpayProvider
    ) -> None:
        assert blank_references_refused(provider) == [REFERENCE_MISSING, REFERENCE_MISSING]

    def test_an_unknown_payment_or_order_is_not_found(self, provider: RazorpayProvider) -> None:
        with pytest.raises(NotFoundError):
            provider.refund("pay_Unknown000001", Money(Decimal(1), "INR"), idempotency_key="u-1")
        with pytest.raises(NotFoundError):
            provider.refund("order_Unknown0001", Money(Decimal(1), "INR"), idempotency_key="u-2")


class TestVendorErrors:
    """Every SDK and requests exception leaves as the library's own error."""

    @pytest.mark.parametrize(
        ("status", "code", "retryable"),
        [
            (400, "BAD_REQUEST_ERROR", False),
            (401, "BAD_REQUEST_ERROR", False),
            (409, "BAD_REQUEST_ERROR", True),
            (429, "BAD_REQUEST_ERROR", True),
            (500, "SERVER_ERROR", True),
            (502, "GATEWAY_ERROR", True),
        ],
    )
    def test_an_error_answer_is_a_payment_provider_error(
        self,
        fake: FakeRazorpay,
        provider: RazorpayProvider,
        status: int,
        code: str,
        retryable: bool,
    ) -> None:
        fake.fail_next(status, code, "something went wrong")
        with pytest.raises(PaymentProviderError) as caught:
            provider.create_intent(_request())
        assert caught.value.reason == code
        assert caught.value.retryable is retryable
        assert f"HTTP {status}" in caught.value.message

    def test_wrong_credentials_are_refused_as_razorpay_answers(self, fake: FakeRazorpay) -> None:
        wrong = RazorpayProvider(KEY_ID, "not-the-secret", WEBHOOK_SECRET, base_url=fake.base_url)
        try:
            with pytest.raises(PaymentProviderError) as caught:
                wrong.create_intent(_request())
        finally:
            wrong.close()
        assert "Authentication failed" in caught.value.message
        assert "HTTP 401" in caught.value.message
        assert caught.value.retryable is False

    def test_a_404_is_not_found_where_an_object_was_asked_for(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        fake.fail_next(404, description="The requested URL was not found on the server.")
        with pytest.raises(NotFoundError):
            provider.fetch("order_Anything00001")

    def test_a_non_json_error_page_is_a_retryable_provider_error(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        fake.fail_next(502, raw="<html>Bad Gateway</html>")
        with pytest.raises(PaymentProviderError) as caught:
            provider.fetch("order_Anything00001")
        assert caught.value.retryable is True

    def test_a_non_json_success_is_a_provider_error(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        fake.fail_next(200, raw="not json")
        with pytest.raises(PaymentProviderError) as caught:
            provider.fetch("order_Anything00001")
        assert caught.value.reason == "unexpected_response"

    def test_a_timeout_is_retryable(self, fake: FakeRazorpay) -> None:
        slow = RazorpayProvider(
            KEY_ID, KEY_SECRET, WEBHOOK_SECRET, base_url=fake.base_url, timeout=0.2
        )
        fake.delay(1.0)
        try:
            with pytest.raises(PaymentProviderError) as caught:
                slow.fetch("order_Anything00001")
        finally:
            fake.delay(0)
            slow.close()
        assert caught.value.reason == "timeout"
        assert caught.value.retryable is True

    def test_an_unreachable_server_is_retryable(self, capsys: pytest.CaptureFixture[str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        gone = RazorpayProvider(
            KEY_ID, KEY_SECRET, WEBHOOK_SECRET, base_url=f"http://127.0.0.1:{port}"
        )
        try:
            with pytest.raises(PaymentProviderError) as caught:
                gone.create_intent(_request())
        finally:
            gone.close()
        assert caught.value.reason == "connection_error"
        assert caught.value.retryable is True

    def test_nothing_from_the_sdk_or_requests_escapes(
        self, fake: FakeRazorpay, provider: RazorpayProvider
    ) -> None:
        calls = [
            lambda: provider.create_intent(_request()),
            lambda: provider.fetch("order_X0000000000001"),
            lambda: provider.refund(
                "order_X0000000000001", Money(Decimal(1), "INR"), idempotency_key="e-1"
            ),
        ]
        for status, code in [
            (400, "BAD_REQUEST_ERROR"),
            (500, "SERVER_ERROR"),
            (502, "GATEWAY_ERROR"),
        ]:
            for call in calls:
                fake.fail_next(status, code)
                with pytest.raises(BookingError) as caught:
                    call()
                assert type(caught.value).__module__ == "bookingcore.errors"


class TestSignatures:
    """Vectors made the way Razorpay signs: hex HMAC-SHA256 of the raw body."""

    BODY = _delivery("payment.captured", {"payment": _payment_entity("captured")})

    def test_a_valid_signature_is_accepted(self, provider: RazorpayProvider) -> None:
        event = provider.parse_webhook(_headers(self.BODY, "evt_ok"), self.BODY)
        assert event.event_id == "evt_ok"
        assert event.provider == "razorpay"

    def test_headers_are_matched_case_insensitively(self, provider: RazorpayProvider) -> None:
        headers = {
            "x-razorpay-signature": _sign(self.BODY),
            "X-RAZORPAY-EVENT-ID": "evt_case",
        }
        assert provider.parse_webhook(headers, self.BODY).event_id == "evt_case"

    def test_a_tampered_body_fails(self, provider: RazorpayProvider) -> None:
        tampered = self.BODY.replace(b"150000", b"150001")
        with pytest.raises(AuthenticationError):
            provider.parse_webhook(_headers(self.BODY), tampered)

    def test_a_re_serialised_body_fails(self, provider: RazorpayProvider) -> None:
        reserialised = json.dumps(json.loads(self.BODY), separators=(",", ":")).encode()
        assert json.loads(reserialised) == json.loads(self.BODY)
        with pytest.raises(AuthenticationError):
            provider.parse_webhook(_headers(self.BODY), reserialised)

    def test_a_signature_under_another_secret_fails(self, provider: RazorpayProvider) -> None:
        headers = {"X-Razorpay-Signature": _sign(self.BODY, "other"), "X-Razorpay-Event-Id": "e"}
        with pytest.raises(AuthenticationError):
            provider.parse_webhook(headers, self.BODY)

    def test_a_missing_signature_header_fails(self, provider: RazorpayProvider) -> None:
        with pytest.raises(AuthenticationError, match="X-Razorpay-Signature"):
            provider.parse_webhook({"X-Razorpay-Event-Id": "evt_1"}, self.BODY)

    def test_a_missing_event_id_header_fails(self, provider: RazorpayProvider) -> None:
        with pytest.raises(AuthenticationError, match="event-id"):
            provider.parse_webhook({"X-Razorpay-Signature": _sign(self.BODY)}, self.BODY)

    @pytest.mark.parametrize("garbage", ["nope", "ü" * 64, "0" * 64, _sign(b"") + "00", "  "])
    def test_a_garbage_signature_fails(self, provider: RazorpayProvider, garbage: str) -> None:
        headers = {"X-Razorpay-Signature": garbage, "X-Razorpay-Event-Id": "evt_1"}
        with pytest.raises(AuthenticationError):
            provider.parse_webhook(headers, self.BODY)

    def test_a_body_that_is_not_the_raw_bytes_is_refused(self, provider: RazorpayProvider) -> None:
        # A host handing over the decoded text (or parsed JSON) gets the library's error,
        # as with Stripe, not a TypeError from hmac.
        for body in (self.BODY.decode(), json.loads(self.BODY), None):
            with pytest.raises(AuthenticationError, match="raw bytes"):
                provider.parse_webhook(_headers(self.BODY), body)  # type: ignore[arg-type]

    def test_a_signed_body_that_is_not_an_event_is_a_validation_error(
        self, provider: RazorpayProvider
    ) -> None:
        for body in [b"not json", b"[]", b'{"event": "payment.captured"}', b"\xff\xfe"]:
            with pytest.raises(ValidationError) as caught:
                provider.parse_webhook(_headers(body), body)
            # On the port's parameter, as Stripe names it.
            assert refused(caught) == BODY_NOT_AN_EVENT


class TestWebhookEvents:
    def _parse(self, provider: RazorpayProvider, body: bytes) -> object:
        return provider.parse_webhook(_headers(body, "evt_read"), body)

    @pytest.mark.parametrize(
        ("event", "payment_status", "status"),
        [
            ("payment.authorized", "authorized", PaymentStatus.AUTHORIZED),
            ("payment.captured", "captured", PaymentStatus.CAPTURED),
            ("payment.failed", "failed", PaymentStatus.FAILED),
        ],
    )
    def test_payment_events_name_the_order_status_and_amount(
        self, provider: RazorpayProvider, event: str, payment_status: str, status: PaymentStatus
    ) -> None:
        body = _delivery(event, {"payment": _payment_entity(payment_status, 105, "JPY")})
        parsed = provider.parse_webhook(_headers(body, "evt_pay"), body)
        assert parsed.kind == event
        assert parsed.payment_reference == "order_DESlLckIVRkHWj"
        assert parsed.status is status
        assert parsed.amount == Money(Decimal(105), "JPY")
        assert parsed.refund_reference is None
        assert parsed.occurred_at == datetime.fromtimestamp(1_767_000_000, UTC)
        assert parsed.payload["event"] == event

    def test_order_paid_is_captured(self, provider: RazorpayProvider) -> None:
        body = _delivery(
            "order.paid",
            {
                "payment": _payment_entity("captured", 12345, "KWD"),
                "order": {
                    "entity": {
                        "id": "order_DESlLckIVRkHWj",
                        "amount": 12345,
                        "currency": "KWD",
                        "status": "paid",
                    }
                },
            },
        )
        parsed = provider.parse_webhook(_headers(body), body)
        assert parsed.status is PaymentStatus.CAPTURED
        assert parsed.payment_reference == "order_DESlLckIVRkHWj"
        assert parsed.amount == Money(Decimal("12.345"), "KWD")

    @pytest.mark.parametrize(
        ("event", "status"),
        [
            ("refund.created", RefundStatus.PENDING),
            ("refund.processed", RefundStatus.SUCCEEDED),
            ("refund.failed", RefundStatus.FAILED),
        ],
    )
    def test_refund_events_name_the_refund_and_its_order(
        self, provider: RazorpayProvider, event: str, status: RefundStatus
    ) -> None:
        refund = {
            "entity": {
                "id": "rfnd_FgRAHdNOM4ZVbO",
                "entity": "refund",
                "amount": 50025,
                "currency": "INR",
                "payment_id": "pay_DESlfW9H8K9uqM",
                "notes": {"idempotency_key": "6a1c2f0e-key", "reason": "snow"},
            }
        }
        body = _delivery(event, {"refund": refund, "payment": _payment_entity("captured")})
        parsed = provider.parse_webhook(_headers(body), body)
        assert parsed.refund_reference == "rfnd_FgRAHdNOM4ZVbO"
        assert parsed.refund_status is status
        assert parsed.amount == Money(Decimal("500.25"), "INR")
        assert parsed.refund_amount == Money(Decimal("500.25"), "INR")
        assert parsed.refund_key == "6a1c2f0e-key"
        assert parsed.payment_reference == "order_DESlLckIVRkHWj"
        assert parsed.status is None

    def test_a_refund_made_in_the_dashboard_has_no_key(self, provider: RazorpayProvider) -> None:
        refund = {
            "entity": {
                "id": "rfnd_1",
                "entity": "refund",
                "amount": 100,
                "currency": "INR",
                "payment_id": "pay_DESlfW9H8K9uqM",
                "notes": [],  # Razorpay sends empty notes as a list
            }
        }
        body = _delivery("refund.processed", {"refund": refund, "payment": _payment_entity("x")})
        parsed = provider.parse_webhook(_headers(body), body)
        assert (parsed.refund_reference, parsed.refund_key) == ("rfnd_1", None)

    def test_an_unknown_event_is_read_with_no_status(self, provider: RazorpayProvider) -> None:
        body = _delivery("subscription.charged", {"subscription": {"entity": {"id": "sub_1"}}})
        parsed = provider.parse_webhook(_headers(body, "evt_sub"), body)
        assert parsed.kind == "subscription.charged"
        assert parsed.status is None
        assert parsed.refund_status is None
        assert parsed.event_id == "evt_sub"

    def test_a_payment_event_with_a_broken_amount_is_a_validation_error(
        self, provider: RazorpayProvider
    ) -> None:
        body = _delivery("payment.captured", {"payment": _payment_entity("captured", 1)})
        body = body.replace(b'"amount": 1,', b'"amount": "1.5",')
        with pytest.raises(ValidationError) as caught:
            provider.parse_webhook(_headers(body), body)
        assert refused(caught) == BODY_NOT_AN_EVENT


class TestThroughThePaymentService:
    """``core.payments.handle_webhook`` with Razorpay's refund events, from refunds made in its
    dashboard and from the library's own refunds whose answer was lost."""

    @staticmethod
    def _paid(fake: FakeRazorpay) -> tuple[BookingCore, Booking, str, str]:
        shop = Payable(
            RazorpayProvider(KEY_ID, KEY_SECRET, WEBHOOK_SECRET, base_url=fake.base_url, timeout=2)
        )
        order_id = shop.intent("razorpay")
        payment_id = fake.pay(order_id)
        body = _delivery("payment.captured", {"payment": {"entity": fake.payments[payment_id]}})
        shop.core.payments.handle_webhook("razorpay", _headers(body, "evt_paid"), body)
        return shop.core, shop.booking, order_id, payment_id

    @staticmethod
    def _refund_event(
        fake: FakeRazorpay, event: str, refund_id: str, event_id: str
    ) -> tuple[dict[str, str], bytes]:
        refund = fake.refunds[refund_id]
        payment = fake.payments[refund["payment_id"]]
        body = _delivery(event, {"refund": {"entity": refund}, "payment": {"entity": payment}})
        return _headers(body, event_id), body

    def test_a_refund_made_in_the_dashboard_is_recorded_once_and_settled(
        self, fake: FakeRazorpay
    ) -> None:
        core, booking, _, payment_id = self._paid(fake)
        refund_id = fake.refund_in_dashboard(payment_id, 250000)  # all of it
        for event, event_id in [
            ("refund.created", "evt_r1"),
            ("refund.processed", "evt_r2"),
            ("refund.processed", "evt_r2"),
        ]:
            core.payments.handle_webhook(
                "razorpay", *self._refund_event(fake, event, refund_id, event_id)
            )
        (payment,) = core.payments.for_booking(booking.id, principal=ADMIN)
        assert payment.status is PaymentStatus.REFUNDED
        assert (payment.refunded_amount, payment.pending_refund_amount) == (
            Money("2500", "INR"),
            Money("0", "INR"),
        )
        _, credit = core.payments.invoices_for(booking.id, principal=ADMIN)
        assert credit.total == Money("-2500", "INR")

    def test_a_refund_webhook_before_razorpays_answer_settles_the_pending_refund(
        self, fake: FakeRazorpay
    ) -> None:
        core, booking, _, _ = self._paid(fake)
        (payment,) = core.payments.for_booking(booking.id, principal=ADMIN)
        fake.lose_next_refund_answer()  # Razorpay refunds; the answer never arrives
        with pytest.raises(PaymentProviderError) as caught:
            core.payments.refund(
                payment.id, Money("500", "INR"), principal=ADMIN, idempotency_key="desk-1"
            )
        assert caught.value.retryable
        (refund_id,) = fake.refunds
        core.payments.handle_webhook(
            "razorpay", *self._refund_event(fake, "refund.processed", refund_id, "evt_r")
        )
        (payment,) = core.payments.for_booking(booking.id, principal=ADMIN)
        assert payment.refunded_amount == Money("500", "INR")
        assert payment.pending_refund_amount == Money("0", "INR")
        again = core.payments.refund(
            payment.id, Money("500", "INR"), principal=ADMIN, idempotency_key="desk-1"
        )
        assert (again.status, again.provider_reference) == (RefundStatus.SUCCEEDED, refund_id)
        assert list(fake.refunds) == [refund_id]


class TestTwoIntentsWithOneKeyAtOnce:
    def test_each_caller_is_given_the_order_of_the_payment_it_is_answered_with(
        self, fake: FakeRazorpay
    ) -> None:
        # Razorpay has no idempotency header for orders: two requests with one key at the
        # same instant both find no order by its receipt and both create one. The payment
        # service stores one payment; the request that lost must still be given that
        # payment's order, or the customer pays an order no payment knows (its webhook is
        # ignored: money taken and never recorded).
        shop = Payable(
            RazorpayProvider(KEY_ID, KEY_SECRET, WEBHOOK_SECRET, base_url=fake.base_url, timeout=5)
        )
        core, booking, me = shop.core, shop.booking, shop.me
        fake.delay(0.3)  # both look the receipt up before either creates its order
        try:
            intents = at_once(
                2,
                lambda _: core.payments.create_intent(
                    booking.id, "razorpay", principal=me, idempotency_key="double-click"
                ),
            )
        finally:
            fake.delay(0)
        first, second = intents
        assert isinstance(first, PaymentIntent)
        assert isinstance(second, PaymentIntent)
        assert len(fake.orders) == 2  # the race this test is about happened
        assert first.payment.id == second.payment.id
        for intent in intents:
            # Checkout opens Razorpay with the client secret: the stored payment's order.
            assert intent.client_secret == intent.payment.provider_reference
        again = core.payments.create_intent(
            booking.id, "razorpay", principal=me, idempotency_key="double-click"
        )
        assert again.client_secret == again.payment.provider_reference == first.client_secret
        order_id = first.client_secret
        assert order_id is not None
        paid = fake.pay(order_id)
        body = _delivery("payment.captured", {"payment": {"entity": fake.payments[paid]}})
        receipt = core.payments.handle_webhook("razorpay", _headers(body, "evt_race"), body)
        assert receipt.status is ReceiptStatus.APPLIED
