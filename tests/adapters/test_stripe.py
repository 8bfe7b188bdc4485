"""The Stripe adapter: webhook signatures checked the way Stripe signs, and PaymentIntents
and Refunds through the official SDK against a local server that answers like Stripe."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
import stripe
from tests._payable import Payable
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

import bookingcore.errors
from bookingcore import (
    BookingCore,
    BookingId,
    Money,
    PaymentId,
    Principal,
    StaffId,
    StaffRole,
)
from bookingcore.domain import Booking, ReceiptStatus
from bookingcore.domain.payments import PaymentStatus, RefundStatus
from bookingcore.errors import (
    AuthenticationError,
    BookingError,
    NotFoundError,
    PaymentProviderError,
    ValidationError,
)
from bookingcore.ports.payments import IntentRequest, PaymentProvider
from bookingcore.testing import FixedClock
from bookingcore_adapters.payments.fake_stripe import (
    API_KEY,
    WEBHOOK_SECRET,
    FakeStripe,
    decode_form,
)
from bookingcore_adapters.payments.stripe import (
    STRIPE_CAPABILITIES,
    StripeProvider,
    payment_status,
    refund_status,
    sign_stripe_payload,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
T = int(NOW.timestamp())
OLD_SECRET = "whsec_old_secret_rotating_out"
NEW_SECRET = "whsec_new_secret_rotating_in"

EVENT = {
    "id": "evt_1PaymentSucceeded",
    "object": "event",
    "api_version": "2025-01-27.acacia",
    "created": T - 5,
    "data": {
        "object": {
            "id": "pi_3PaidInFull",
            "object": "payment_intent",
            "amount": 250000,
            "amount_received": 250000,
            "currency": "inr",
            "status": "succeeded",
            "metadata": {"booking_id": "b-1"},
        }
    },
    "type": "payment_intent.succeeded",
}
#: Stripe's bodies are pretty-printed JSON; the signature covers these exact bytes.
BODY = json.dumps(EVENT, indent=2).encode()


def stripe_signature(secret: str, body: bytes, timestamp: int) -> str:
    """Sign as Stripe documents it, independently of the adapter's own helper."""
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def provider(*secrets: str, clock: FixedClock | None = None, **kwargs: Any) -> StripeProvider:
    return StripeProvider(
        API_KEY, list(secrets) or [WEBHOOK_SECRET], clock=clock or FixedClock(NOW), **kwargs
    )


def assert_library_error(exc: BaseException) -> None:
    """The error is one of bookingcore's own, with no stripe class anywhere in its type."""
    assert isinstance(exc, BookingError)
    assert not isinstance(exc, stripe.StripeError)
    assert type(exc) in vars(bookingcore.errors).values()
    assert all(not cls.__module__.startswith("stripe") for cls in type(exc).__mro__)


class TestSignatures:
    def test_a_delivery_signed_with_the_secret_is_read(self) -> None:
        header = f"t={T},v1={stripe_signature(WEBHOOK_SECRET, BODY, T)}"
        event = provider().parse_webhook({"Stripe-Signature": header}, BODY)
        assert event.event_id == "evt_1PaymentSucceeded"
        assert event.status is PaymentStatus.CAPTURED

    def test_the_adapters_signing_helper_matches_stripes_scheme(self) -> None:
        expected = f"t={T},v1={stripe_signature(WEBHOOK_SECRET, BODY, T)}"
        assert sign_stripe_payload(WEBHOOK_SECRET, BODY, T) == expected

    def test_headers_are_matched_case_insensitively(self) -> None:
        header = f"t={T},v1={stripe_signature(WEBHOOK_SECRET, BODY, T)}"
        assert provider().parse_webhook({"stripe-signature": header}, BODY).event_id

    def test_one_matching_v1_among_several_is_enough(self) -> None:
        wrong = stripe_signature("whsec_someone_else", BODY, T)
        right = stripe_signature(WEBHOOK_SECRET, BODY, T)
        header = f"t={T},v1={wrong},v1={right},v0=6ffbb59b2300aae63f272406069a9788598b792a"
        assert provider().parse_webhook({"Stripe-Signature": header}, BODY).event_id

    @pytest.mark.parametrize("signing_secret", [OLD_SECRET, NEW_SECRET])
    def test_either_secret_verifies_while_a_secret_is_rotated(self, signing_secret: str) -> None:
        header = f"t={T},v1={stripe_signature(signing_secret, BODY, T)}"
        rotating = provider(OLD_SECRET, NEW_SECRET)
        assert rotating.parse_webhook({"Stripe-Signature": header}, BODY).event_id

    def test_a_secret_no_longer_configured_is_refused(self) -> None:
        header = f"t={T},v1={stripe_signature(OLD_SECRET, BODY, T)}"
        with pytest.raises(AuthenticationError, match="no v1 signature matches"):
            provider(NEW_SECRET).parse_webhook({"Stripe-Signature": header}, BODY)

    def test_a_tampered_body_is_refused(self) -> None:
        header = f"t={T},v1={stripe_signature(WEBHOOK_SECRET, BODY, T)}"
        tampered = BODY.replace(b"250000", b"250001")
        with pytest.raises(AuthenticationError, match="no v1 signature matches"):
            provider().parse_webhook({"Stripe-Signature": header}, tampered)

    def test_a_re_serialised_body_is_refused(self) -> None:
        header = f"t={T},v1={stripe_signature(WEBHOOK_SECRET, BODY, T)}"
        reserialised = json.dumps(json.loads(BODY)).encode()
        assert json.loads(reserialised) == json.loads(BODY)
        with pytest.raises(AuthenticationError):
            provider().parse_webhook({"Stripe-Signature": header}, reserialised)

    def test_a_wrong_secret_is_refused(self) -> None:
        header = f"t={T},v1={stripe_signature('whsec_wrong', BODY, T)}"
        with pytest.raises(AuthenticationError, match="no v1 signature matches"):
            provider().parse_webhook({"Stripe-Signature": header}, BODY)

    def test_a_signature_changed_in_the_timestamp_is_refused(self) -> None:
        header = f"t={T + 1},v1={stripe_signature(WEBHOOK_SECRET, BODY, T)}"
        with pytest.raises(AuthenticationError, match="no v1 signature matches"):
            provider().parse_webhook({"Stripe-Signature": header}, BODY)

    @pytest.mark.parametrize(("age", "accepted"), [(300, True), (301, False), (3600, False)])
    def test_a_delivery_older_than_the_tolerance_is_refused(self, age: int, accepted: bool) -> None:
        header = f"t={T - age},v1={stripe_signature(WEBHOOK_SECRET, BODY, T - age)}"
        if accepted:
            provider().parse_webhook({"Stripe-Signature": header}, BODY)
        else:
            with pytest.raises(AuthenticationError, match="old"):
                provider().parse_webhook({"Stripe-Signature": header}, BODY)

    @pytest.mark.parametrize(("ahead", "accepted"), [(300, True), (301, False), (86400, False)])
    def test_a_delivery_dated_in_the_future_is_refused(self, ahead: int, accepted: bool) -> None:
        header = f"t={T + ahead},v1={stripe_signature(WEBHOOK_SECRET, BODY, T + ahead)}"
        if accepted:
            provider().parse_webhook({"Stripe-Signature": header}, BODY)
        else:
            with pytest.raises(AuthenticationError, match="future"):
                provider().parse_webhook({"Stripe-Signature": header}, BODY)

    def test_the_tolerance_and_clock_are_the_configured_ones(self) -> None:
        clock = FixedClock(NOW)
        strict = provider(clock=clock, tolerance=10)
        header = sign_stripe_payload(WEBHOOK_SECRET, BODY, T)
        strict.parse_webhook({"Stripe-Signature": header}, BODY)
        clock.advance(seconds=11)
        with pytest.raises(AuthenticationError, match="11 s old; at most 10 s"):
            strict.parse_webhook({"Stripe-Signature": header}, BODY)

    def test_a_timestamp_beyond_any_date_is_refused_not_crashed_on(self) -> None:
        far = 999_999_999_999
        header = sign_stripe_payload(WEBHOOK_SECRET, BODY, far)
        with pytest.raises(AuthenticationError, match="future"):
            provider().parse_webhook({"Stripe-Signature": header}, BODY)

    def test_the_system_clock_is_the_default(self) -> None:
        now = int(datetime.now(UTC).timestamp())
        default = StripeProvider(API_KEY, [WEBHOOK_SECRET])
        header = sign_stripe_payload(WEBHOOK_SECRET, BODY, now)
        assert default.parse_webhook({"Stripe-Signature": header}, BODY).event_id
        stale = sign_stripe_payload(WEBHOOK_SECRET, BODY, now - 1000)
        with pytest.raises(AuthenticationError):
            default.parse_webhook({"Stripe-Signature": stale}, BODY)

    @pytest.mark.parametrize(
        "header",
        [
            f"v1={'a' * 64}",  # no timestamp
            f"t={T}",  # no signature at all
            f"t={T},v0={'a' * 64}",  # only the legacy test-mode scheme
            f"t=yesterday,v1={'a' * 64}",  # a timestamp that is not a number
            f"t={T},t={T + 1},v1={'a' * 64}",  # two timestamps
            f"t=,v1={'a' * 64}",
            "",
            "   ",
            "garbage",
            "t=1;v1=2",
            ",,,",
            "🙂=🙂",
            f"t={T},v1={'🙂' * 64}",
            "x" * 10_000,
        ],
    )
    def test_a_missing_or_malformed_header_is_refused(self, header: str) -> None:
        with pytest.raises(AuthenticationError) as caught:
            provider().parse_webhook({"Stripe-Signature": header}, BODY)
        assert "stripe webhook refused" in str(caught.value)

    def test_a_missing_header_is_refused(self) -> None:
        with pytest.raises(AuthenticationError, match="no Stripe-Signature header"):
            provider().parse_webhook({"Content-Type": "application/json"}, BODY)

    def test_a_header_that_is_not_text_is_refused(self) -> None:
        header = sign_stripe_payload(WEBHOOK_SECRET, BODY, T).encode()
        with pytest.raises(AuthenticationError, match="no Stripe-Signature header"):
            provider().parse_webhook({"Stripe-Signature": header}, BODY)  # type: ignore[dict-item]

    def test_a_body_that_is_not_bytes_is_refused(self) -> None:
        header = sign_stripe_payload(WEBHOOK_SECRET, BODY, T)
        with pytest.raises(AuthenticationError, match="raw bytes"):
            provider().parse_webhook({"Stripe-Signature": header}, BODY.decode())  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "body",
        [b"not json", b"[1, 2]", b'{"type": "x"}', b'{"id": "evt_1", "type": "x"}', b"\xff\xfe"],
    )
    def test_a_verified_body_that_is_not_an_event_is_a_validation_error(self, body: bytes) -> None:
        header = sign_stripe_payload(WEBHOOK_SECRET, body, T)
        with pytest.raises(ValidationError) as caught:
            provider().parse_webhook({"Stripe-Signature": header}, body)
        assert refused(caught) == BODY_NOT_AN_EVENT


def deliver(kind: str, obj: dict[str, Any], **event: Any) -> tuple[dict[str, str], bytes]:
    body = json.dumps(
        {"id": "evt_1", "type": kind, "created": T, "data": {"object": obj}, **event}
    ).encode()
    return {"Stripe-Signature": sign_stripe_payload(WEBHOOK_SECRET, body, T)}, body


def intent_object(**fields: Any) -> dict[str, Any]:
    return {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 5000,
        "amount_capturable": 0,
        "amount_received": 0,
        "currency": "jpy",
        **fields,
    }


class TestEvents:
    @pytest.mark.parametrize(
        ("kind", "status"),
        [
            ("payment_intent.succeeded", PaymentStatus.CAPTURED),
            ("payment_intent.payment_failed", PaymentStatus.FAILED),
            ("payment_intent.canceled", PaymentStatus.CANCELLED),
            ("payment_intent.requires_action", PaymentStatus.REQUIRES_ACTION),
            ("payment_intent.amount_capturable_updated", PaymentStatus.AUTHORIZED),
            ("payment_intent.processing", PaymentStatus.PENDING),
        ],
    )
    def test_payment_intent_events_say_the_payments_status(
        self, kind: str, status: PaymentStatus
    ) -> None:
        event = provider().parse_webhook(*deliver(kind, intent_object()))
        assert event.provider == "stripe"
        assert event.kind == kind
        assert event.payment_reference == "pi_1"
        assert event.status is status
        assert event.occurred_at == NOW
        assert event.refund_reference is None

    def test_succeeded_reports_what_was_received_in_minor_units(self) -> None:
        obj = intent_object(amount=5000, amount_received=4000, currency="jpy")
        event = provider().parse_webhook(*deliver("payment_intent.succeeded", obj))
        assert event.amount == Money(Decimal(4000), "JPY")

    @pytest.mark.parametrize(
        ("units", "currency", "amount"),
        [(500000, "isk", Money("5000", "ISK")), (1000, "mga", Money("1000", "MGA"))],
    )
    def test_amounts_are_read_in_stripes_units_of_the_currency(
        self, units: int, currency: str, amount: Money
    ) -> None:
        obj = intent_object(amount=units, amount_received=units, currency=currency)
        event = provider().parse_webhook(*deliver("payment_intent.succeeded", obj))
        assert event.amount == amount

    def test_an_mga_amount_with_a_fraction_stripe_cannot_charge_is_refused_on_amount(
        self, api: StripeProvider
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            api.create_intent(intent_request("1000.50", "MGA"))
        assert caught.value.errors[0].field == "amount"

    def test_amount_capturable_updated_reports_what_can_be_captured(self) -> None:
        obj = intent_object(amount=12345, amount_capturable=12345, currency="kwd")
        event = provider().parse_webhook(*deliver("payment_intent.amount_capturable_updated", obj))
        assert event.status is PaymentStatus.AUTHORIZED
        assert event.amount == Money(Decimal("12.345"), "KWD")

    def test_the_payload_is_the_parsed_body(self) -> None:
        headers, body = deliver("payment_intent.succeeded", intent_object())
        assert provider().parse_webhook(headers, body).payload == json.loads(body)

    @pytest.mark.parametrize("kind", ["refund.created", "refund.updated", "refund.failed"])
    def test_refund_events_name_the_refund_and_its_payment(self, kind: str) -> None:
        refund = {
            "id": "re_1",
            "object": "refund",
            "amount": 1050,
            "currency": "inr",
            "payment_intent": "pi_1",
            "charge": "ch_1",
            "status": "failed" if kind == "refund.failed" else "succeeded",
        }
        event = provider().parse_webhook(*deliver(kind, refund))
        assert event.payment_reference == "pi_1"
        assert event.refund_reference == "re_1"
        expected = RefundStatus.FAILED if kind == "refund.failed" else RefundStatus.SUCCEEDED
        assert event.refund_status is expected
        assert event.amount == Money(Decimal("10.50"), "INR")
        assert event.refund_amount == Money(Decimal("10.50"), "INR")
        assert event.refund_key is None  # made in the dashboard: no key of ours
        assert event.status is None

    def test_a_refund_event_carries_the_key_the_refund_was_asked_with(self) -> None:
        refund = {
            "id": "re_1",
            "object": "refund",
            "amount": 1050,
            "currency": "inr",
            "payment_intent": "pi_1",
            "metadata": {"idempotency_key": "6a1c2f0e-key", "reason": "snow"},
            "status": "succeeded",
        }
        event = provider().parse_webhook(*deliver("refund.created", refund))
        assert event.refund_key == "6a1c2f0e-key"

    def test_charge_refunded_names_the_newest_refund_and_the_refunded_total(self) -> None:
        charge = {
            "id": "ch_1",
            "object": "charge",
            "amount": 5000,
            "amount_refunded": 3000,
            "currency": "usd",
            "payment_intent": {"id": "pi_1", "object": "payment_intent"},  # expanded
            "refunds": {
                "object": "list",
                "data": [
                    {
                        "id": "re_2",
                        "object": "refund",
                        "amount": 1000,
                        "currency": "usd",
                        "metadata": {"idempotency_key": "k-2"},
                        "status": "pending",
                    },
                    {"id": "re_1", "object": "refund", "amount": 2000, "status": "succeeded"},
                ],
            },
        }
        event = provider().parse_webhook(*deliver("charge.refunded", charge))
        assert event.payment_reference == "pi_1"
        assert event.refund_reference == "re_2"
        assert event.refund_status is RefundStatus.PENDING
        assert event.amount == Money(Decimal("30.00"), "USD")
        assert event.refund_amount == Money(Decimal("10.00"), "USD")
        assert event.refund_key == "k-2"
        assert event.status is None

    def test_an_event_the_core_does_not_act_on_is_still_read(self) -> None:
        charge = {"id": "ch_1", "object": "charge", "amount": 700, "currency": "eur"}
        event = provider().parse_webhook(
            *deliver("charge.dispute.created", {**charge, "payment_intent": "pi_9"})
        )
        assert event.kind == "charge.dispute.created"
        assert event.status is None
        assert event.payment_reference == "pi_9"
        assert event.amount == Money(Decimal("7.00"), "EUR")

    def test_an_unknown_object_has_no_payment_reference(self) -> None:
        event = provider().parse_webhook(*deliver("customer.created", {"object": "customer"}))
        assert (event.status, event.payment_reference, event.amount) == (None, None, None)

    @pytest.mark.parametrize(
        "obj",
        [
            intent_object(amount_received="lots"),
            intent_object(amount_received=1.5),
            intent_object(currency="xyz"),
            intent_object(currency=None),
        ],
    )
    def test_an_event_with_an_unreadable_amount_is_a_validation_error(
        self, obj: dict[str, Any]
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            provider().parse_webhook(*deliver("payment_intent.succeeded", obj))
        assert refused(caught) == BODY_NOT_AN_EVENT


class TestStatusMaps:
    @pytest.mark.parametrize(
        ("stripe_status", "status"),
        [
            ("requires_payment_method", PaymentStatus.PENDING),
            ("requires_confirmation", PaymentStatus.PENDING),
            ("requires_action", PaymentStatus.REQUIRES_ACTION),
            ("processing", PaymentStatus.PENDING),
            ("requires_capture", PaymentStatus.AUTHORIZED),
            ("succeeded", PaymentStatus.CAPTURED),
            ("canceled", PaymentStatus.CANCELLED),
        ],
    )
    def test_intent_statuses(self, stripe_status: str, status: PaymentStatus) -> None:
        assert payment_status(stripe_status) is status

    def test_a_declined_intent_back_at_requires_payment_method_is_failed(self) -> None:
        assert payment_status("requires_payment_method", failed=True) is PaymentStatus.FAILED

    @pytest.mark.parametrize(
        ("stripe_status", "status"),
        [
            ("pending", RefundStatus.PENDING),
            ("requires_action", RefundStatus.PENDING),
            (None, RefundStatus.PENDING),
            ("succeeded", RefundStatus.SUCCEEDED),
            ("failed", RefundStatus.FAILED),
            ("canceled", RefundStatus.FAILED),
        ],
    )
    def test_refund_statuses(self, stripe_status: str | None, status: RefundStatus) -> None:
        assert refund_status(stripe_status) is status

    def test_an_undocumented_status_is_refused(self) -> None:
        with pytest.raises(ValueError, match="not a PaymentIntent status"):
            payment_status("on_fire")
        with pytest.raises(ValueError, match="not a Refund status"):
            refund_status("on_fire")


class TestConstruction:
    def test_it_is_a_payment_provider_with_every_capability(self) -> None:
        stripe_provider: PaymentProvider = provider()
        assert stripe_provider.name == "stripe"
        assert stripe_provider.capabilities == STRIPE_CAPABILITIES
        caps = stripe_provider.capabilities
        flags = (caps.refunds, caps.partial_refunds, caps.needs_redirect, caps.capture_later)
        assert flags == (True, True, True, True)
        assert caps.webhooks is True
        assert caps.fetch_state is True

    def test_its_repr_never_shows_the_key_or_secrets(self) -> None:
        text = repr(provider())
        assert API_KEY not in text
        assert WEBHOOK_SECRET not in text

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"api_key": ""}, "api_key"),
            ({"webhook_secrets": []}, "webhook_secrets"),
            ({"webhook_secrets": "whsec_one_string"}, "webhook_secrets"),
            ({"webhook_secrets": ["whsec_a", " "]}, "webhook_secrets"),
            ({"tolerance": 0}, "tolerance"),
            ({"tolerance": True}, "tolerance"),
            ({"api_base": "ftp://example.com"}, "api_base"),
        ],
    )
    def test_bad_settings_are_refused_naming_the_field(
        self, kwargs: dict[str, Any], field: str
    ) -> None:
        settings: dict[str, Any] = {"api_key": API_KEY, "webhook_secrets": [WEBHOOK_SECRET]}
        settings.update(kwargs)
        with pytest.raises(ValidationError) as caught:
            StripeProvider(**settings)
        assert caught.value.fields == (field,)

    def test_no_global_stripe_state_is_set(self) -> None:
        before = stripe.api_key, stripe.api_base
        StripeProvider("sk_test_other", [WEBHOOK_SECRET], api_base="http://127.0.0.1:9")
        assert (stripe.api_key, stripe.api_base) == before


# ---------------------------------------------------------------------- against the fake API


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as server:
        yield server


@pytest.fixture
def api(fake: FakeStripe) -> StripeProvider:
    return StripeProvider(API_KEY, [WEBHOOK_SECRET], api_base=fake.url)


def intent_request(
    amount: str = "2500.00", currency: str = "INR", *, key: str | None = None, **metadata: str
) -> IntentRequest:
    return IntentRequest(
        payment_id=PaymentId(uuid4()),
        booking_id=BookingId(uuid4()),
        amount=Money(Decimal(amount), currency),
        idempotency_key=key or f"intent-{uuid4()}",
        description="Hampta Pass trek, 2 travelers",
        receipt_email="asha@example.com",
        metadata=metadata,
    )


def captured_intent(api: StripeProvider, fake: FakeStripe, amount: str = "2500.00") -> str:
    reference = api.create_intent(intent_request(amount)).reference
    fake.succeed(reference)
    return reference


class TestCreateIntent:
    @pytest.mark.parametrize(
        ("amount", "currency", "units"),
        [
            ("2500.50", "INR", 250050),
            ("5000", "JPY", 5000),
            ("12.345", "KWD", 12345),
            # Stripe's own units where they differ from ISO 4217's: ISK in hundredths,
            # MGA in whole ariary.
            ("5000", "ISK", 500000),
            ("1000", "MGA", 1000),
        ],
    )
    def test_the_amount_goes_in_minor_units_and_the_currency_in_lower_case(
        self, api: StripeProvider, fake: FakeStripe, amount: str, currency: str, units: int
    ) -> None:
        intent = api.create_intent(intent_request(amount, currency))
        method, path, _, form = fake.requests[-1]
        assert (method, path) == ("POST", "/v1/payment_intents")
        assert form["amount"] == str(units)
        assert form["currency"] == currency.lower()
        assert intent.amount == Money(Decimal(amount), currency)
        assert fake.intents[intent.reference]["amount"] == units

    def test_the_intent_carries_the_booking_payment_and_callers_metadata(
        self, api: StripeProvider, fake: FakeStripe
    ) -> None:
        request = intent_request(channel="web")
        intent = api.create_intent(request)
        _, _, headers, form = fake.requests[-1]
        assert headers["authorization"] == f"Bearer {API_KEY}"
        assert headers["content-type"] == "application/x-www-form-urlencoded"
        assert form["metadata"] == {
            "channel": "web",
            "booking_id": str(request.booking_id),
            "payment_id": str(request.payment_id),
        }
        assert form["description"] == "Hampta Pass trek, 2 travelers"
        assert form["receipt_email"] == "asha@example.com"
        assert intent.status is PaymentStatus.PENDING
        assert intent.client_secret == fake.intents[intent.reference]["client_secret"]
        assert intent.reference.startswith("pi_")

    def test_the_idempotency_key_is_sent_and_a_retry_returns_the_same_intent(
        self, api: StripeProvider, fake: FakeStripe
    ) -> None:
        request = intent_request(key="booking-42-attempt-1")
        count = len(fake.intents)
        first = api.create_intent(request)
        again = api.create_intent(request)
        assert again == first
        assert len(fake.intents) == count + 1
        assert fake.requests[-1][2]["idempotency-key"] == "booking-42-attempt-1"

    def test_one_key_for_a_different_request_is_refused(self, api: StripeProvider) -> None:
        api.create_intent(intent_request("100.00", key="reused-key"))
        with pytest.raises(PaymentProviderError) as caught:
            api.create_intent(intent_request("200.00", key="reused-key"))
        assert caught.value.reason == "idempotency_error"
        assert caught.value.retryable is False
        assert_library_error(caught.value)

    @pytest.mark.parametrize("amount", ["0", "-5.00"])
    def test_an_amount_not_above_zero_never_reaches_stripe(
        self, api: StripeProvider, fake: FakeStripe, amount: str
    ) -> None:
        before = len(fake.requests)
        with pytest.raises(ValidationError) as caught:
            api.create_intent(intent_request(amount))
        assert refused(caught) == AMOUNT_NOT_ABOVE_ZERO
        assert len(fake.requests) == before

    def test_a_blank_idempotency_key_never_reaches_stripe(
        self, api: StripeProvider, fake: FakeStripe
    ) -> None:
        before = len(fake.requests)
        with pytest.raises(ValidationError) as caught:
            api.create_intent(intent_request(key=" "))
        assert refused(caught) == KEY_MISSING
        assert len(fake.requests) == before

    def test_an_amount_stripe_calls_too_small_is_a_validation_error_on_amount(
        self, api: StripeProvider
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            api.create_intent(intent_request("0.10", "USD"))
        assert refused(caught) == AMOUNT_BELOW_MINIMUM

    def test_a_declined_card_is_not_retryable_and_names_the_decline_code(
        self, api: StripeProvider
    ) -> None:
        with pytest.raises(PaymentProviderError) as caught:
            api.create_intent(intent_request(fake_error="card_declined"))
        assert caught.value.reason == "insufficient_funds"
        assert caught.value.retryable is False
        assert caught.value.provider == "stripe"
        assert "insufficient funds" in caught.value.message
        assert_library_error(caught.value)

    @pytest.mark.parametrize(
        ("trigger", "reason"),
        [
            ("rate_limit", "rate_limit"),
            ("api_error", None),
            ("idempotency_key_in_use", "idempotency_key_in_use"),
        ],
    )
    def test_a_rate_limit_a_concurrent_same_key_or_stripes_5xx_is_retryable(
        self, api: StripeProvider, trigger: str, reason: str | None
    ) -> None:
        with pytest.raises(PaymentProviderError) as caught:
            api.create_intent(intent_request(fake_error=trigger))
        assert caught.value.retryable is True
        assert caught.value.reason == reason
        assert_library_error(caught.value)

    def test_a_refused_parameter_is_not_retryable(self, api: StripeProvider) -> None:
        with pytest.raises(PaymentProviderError) as caught:
            api.create_intent(intent_request(fake_error="invalid_currency"))
        assert (caught.value.reason, caught.value.retryable) == ("parameter_invalid_empty", False)
        assert_library_error(caught.value)

    def test_a_forbidden_call_is_not_retryable(self, api: StripeProvider) -> None:
        with pytest.raises(PaymentProviderError) as caught:
            api.create_intent(intent_request(fake_error="permission"))
        assert (caught.value.reason, caught.value.retryable) == ("secret_key_required", False)
        assert_library_error(caught.value)

    def test_a_bad_api_key_is_a_provider_error_not_the_callers_authentication(
        self, fake: FakeStripe
    ) -> None:
        wrong = StripeProvider("sk_test_wrong", [WEBHOOK_SECRET], api_base=fake.url)
        with pytest.raises(PaymentProviderError) as caught:
            wrong.create_intent(intent_request())
        assert not isinstance(caught.value, AuthenticationError)
        assert caught.value.retryable is False
        assert "API key" in caught.value.message
        assert "sk_test_wrong" not in caught.value.message
        assert_library_error(caught.value)

    def test_stripe_out_of_reach_is_retryable(self) -> None:
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        unreachable = StripeProvider(API_KEY, [WEBHOOK_SECRET], api_base=f"http://127.0.0.1:{port}")
        with pytest.raises(PaymentProviderError) as caught:
            unreachable.create_intent(intent_request())
        assert (caught.value.reason, caught.value.retryable) == ("connection_error", True)
        assert_library_error(caught.value)


class TestFetch:
    def test_a_new_intent_is_pending(self, api: StripeProvider) -> None:
        intent = api.create_intent(intent_request("99.00", "USD"))
        payment = api.fetch(intent.reference)
        assert payment.reference == intent.reference
        assert payment.status is PaymentStatus.PENDING
        assert payment.amount == Money(Decimal("99.00"), "USD")
        assert payment.captured == Money.zero("USD")

    def test_a_paid_intent_is_captured_with_what_was_received(
        self, api: StripeProvider, fake: FakeStripe
    ) -> None:
        reference = api.create_intent(intent_request("5000", "JPY")).reference
        fake.succeed(reference, amount_received=4500)
        payment = api.fetch(reference)
        assert payment.status is PaymentStatus.CAPTURED
        assert payment.captured == Money(Decimal(4500), "JPY")
        _, path, _, _ = fake.requests[-1]
        assert path == f"/v1/payment_intents/{reference}"

    @pytest.mark.parametrize(
        ("stripe_status", "status"),
        [
            ("requires_action", PaymentStatus.REQUIRES_ACTION),
            ("requires_capture", PaymentStatus.AUTHORIZED),
            ("processing", PaymentStatus.PENDING),
            ("canceled", PaymentStatus.CANCELLED),
        ],
    )
    def test_the_stripe_status_is_mapped(
        self, api: StripeProvider, fake: FakeStripe, stripe_status: str, status: PaymentStatus
    ) -> None:
        reference = api.create_intent(intent_request()).reference
        fake.set_status(reference, stripe_status)
        assert api.fetch(reference).status is status

    def test_a_declined_attempt_is_failed_with_its_decline_code(
        self, api: StripeProvider, fake: FakeStripe
    ) -> None:
        reference = api.create_intent(intent_request()).reference
        error = {"type": "card_error", "code": "card_declined", "decline_code": "stolen_card"}
        fake.set_status(reference, "requires_payment_method", last_payment_error=error)
        payment = api.fetch(reference)
        assert payment.status is PaymentStatus.FAILED
        assert payment.failure_reason == "stolen_card"

    def test_an_unknown_intent_is_not_found(self, api: StripeProvider) -> None:
        with pytest.raises(NotFoundError) as caught:
            api.fetch("pi_does_not_exist")
        assert caught.value.key == "pi_does_not_exist"
        assert_library_error(caught.value)

    def test_a_blank_reference_is_refused(self, api: StripeProvider) -> None:
        with pytest.raises(ValidationError) as caught:
            api.fetch(" ")
        assert refused(caught) == REFERENCE_MISSING

    def test_an_answer_that_is_not_a_payment_intent_is_a_provider_error(
        self, api: StripeProvider, fake: FakeStripe
    ) -> None:
        reference = api.create_intent(intent_request()).reference
        fake.set_status(reference, "on_fire")
        with pytest.raises(PaymentProviderError) as caught:
            api.fetch(reference)
        assert caught.value.reason == "unexpected_response"
        assert_library_error(caught.value)


class TestRefund:
    def test_a_partial_refund_sends_the_intent_amount_and_key(
        self, api: StripeProvider, fake: FakeStripe
    ) -> None:
        reference = captured_intent(api, fake, "2500.00")
        refund = api.refund(
            reference,
            Money(Decimal("500.25"), "INR"),
            idempotency_key="refund-1",
            reason="requested_by_customer",
        )
        _, path, headers, form = fake.requests[-1]
        assert path == "/v1/refunds"
        assert form["payment_intent"] == reference
        assert form["amount"] == "50025"
        assert form["reason"] == "requested_by_customer"
        assert headers["idempotency-key"] == "refund-1"
        # echoed back on the refund's webhooks, which may come before this answer
        assert form["metadata"] == {"idempotency_key": "refund-1"}
        assert refund.reference.startswith("re_")
        assert refund.status is RefundStatus.SUCCEEDED
        assert refund.amount == Money(Decimal("500.25"), "INR")

    def test_the_rest_can_then_be_refunded_and_no_more(
        self, api: StripeProvider, fake: FakeStripe
    ) -> None:
        reference = captured_intent(api, fake, "100.00")
        api.refund(reference, Money(Decimal("40.00"), "INR"), idempotency_key=f"a-{reference}")
        rest = api.refund(
            reference, Money(Decimal("60.00"), "INR"), idempotency_key=f"b-{reference}"
        )
        assert rest.amount == Money(Decimal("60.00"), "INR")
        with pytest.raises(PaymentProviderError) as caught:
            api.refund(reference, Money(Decimal("1.00"), "INR"), idempotency_key=f"c-{reference}")
        assert caught.value.reason == "charge_already_refunded"
        assert_library_error(caught.value)

    def test_a_full_refund_in_a_zero_decimal_currency(
        self, api: StripeProvider, fake: FakeStripe
    ) -> None:
        reference = api.create_intent(intent_request("5000", "JPY")).reference
        fake.succeed(reference)
        refund = api.refund(reference, Money(Decimal(5000), "JPY"), idempotency_key=reference)
        assert fake.requests[-1][3]["amount"] == "5000"
        assert refund.amount == Money(Decimal(5000), "JPY")

    def test_a_retried_refund_with_the_same_key_refunds_once(
        self, api: StripeProvider, fake: FakeStripe
    ) -> None:
        reference = captured_intent(api, fake)
        amount = Money(Decimal("10.00"), "INR")
        first = api.refund(reference, amount, idempotency_key=f"once-{reference}")
        again = api.refund(reference, amount, idempotency_key=f"once-{reference}")
        assert again == first
        assert [r["id"] for r in fake.refunds.values() if r["payment_intent"] == reference] == [
            first.reference
        ]

    def test_a_reason_stripe_does_not_know_travels_in_metadata(
        self, api: StripeProvider, fake: FakeStripe
    ) -> None:
        reference = captured_intent(api, fake)
        api.refund(
            reference,
            Money(Decimal("1.00"), "INR"),
            idempotency_key=f"r-{reference}",
            reason="trek cancelled for snow",
        )
        form = fake.requests[-1][3]
        assert "reason" not in form
        assert form["metadata"] == {
            "reason": "trek cancelled for snow",
            "idempotency_key": f"r-{reference}",
        }

    def test_more_than_is_left_is_a_validation_error_on_amount(
        self, api: StripeProvider, fake: FakeStripe
    ) -> None:
        reference = captured_intent(api, fake, "100.00")
        with pytest.raises(ValidationError) as caught:
            api.refund(reference, Money(Decimal("100.01"), "INR"), idempotency_key=reference)
        assert refused(caught) == REFUND_ABOVE_WHAT_IS_LEFT

    def test_an_amount_not_above_zero_never_reaches_stripe(
        self, api: StripeProvider, fake: FakeStripe
    ) -> None:
        before = len(fake.requests)
        with pytest.raises(ValidationError) as caught:
            api.refund("pi_1", Money.zero("INR"), idempotency_key="k")
        assert refused(caught) == AMOUNT_NOT_ABOVE_ZERO
        assert len(fake.requests) == before

    def test_an_uncaptured_payment_cannot_be_refunded(self, api: StripeProvider) -> None:
        reference = api.create_intent(intent_request()).reference
        with pytest.raises(ValidationError) as caught:
            api.refund(reference, Money(Decimal("1.00"), "INR"), idempotency_key=reference)
        assert refused(caught) == REFUND_NOT_CAPTURED
        assert "charge to refund" in caught.value.errors[0].message  # Stripe's own words
        assert_library_error(caught.value)

    def test_a_blank_reference_never_reaches_stripe(
        self, api: StripeProvider, fake: FakeStripe
    ) -> None:
        asked = len(fake.requests)
        assert blank_references_refused(api) == [REFERENCE_MISSING, REFERENCE_MISSING]
        assert len(fake.requests) == asked

    def test_an_unknown_payment_is_a_provider_error(self, api: StripeProvider) -> None:
        with pytest.raises(PaymentProviderError) as caught:
            api.refund("pi_nope", Money(Decimal("1.00"), "INR"), idempotency_key="k-nope")
        assert caught.value.reason == "resource_missing"
        assert_library_error(caught.value)

    def test_a_blank_idempotency_key_is_refused(self, api: StripeProvider) -> None:
        with pytest.raises(ValidationError) as caught:
            api.refund("pi_1", Money(Decimal("1.00"), "INR"), idempotency_key="")
        assert refused(caught) == KEY_MISSING


class TestFakeStripe:
    def test_it_decodes_stripes_bracketed_form_keys(self) -> None:
        form = decode_form("amount=100&metadata%5Bbooking_id%5D=b1&metadata%5Bnote%5D=")
        assert form == {"amount": "100", "metadata": {"booking_id": "b1", "note": ""}}

    def test_its_events_verify_with_the_provider(self, fake: FakeStripe) -> None:
        api = StripeProvider(API_KEY, [WEBHOOK_SECRET])
        headers, body = fake.event("payment_intent.succeeded", intent_object(id="pi_7"))
        event = api.parse_webhook(headers, body)
        assert (event.payment_reference, event.status) == ("pi_7", PaymentStatus.CAPTURED)


class TestThroughThePaymentService:
    """``core.payments.handle_webhook`` with Stripe's own events, asking Stripe when they do not
    decide by themselves."""

    @staticmethod
    def _core(fake: FakeStripe) -> tuple[BookingCore, Booking, str]:
        shop = Payable(StripeProvider(API_KEY, [WEBHOOK_SECRET], api_base=fake.url))
        return shop.core, shop.booking, shop.intent("stripe")

    def test_a_retry_event_arriving_late_is_decided_by_the_intent_stripe_returns(
        self, fake: FakeStripe
    ) -> None:
        core, booking, reference = self._core(fake)
        older = fake.event(
            "payment_intent.requires_action", fake.set_status(reference, "requires_action")
        )
        declined = {"type": "card_error", "code": "card_declined", "decline_code": "stolen_card"}
        failed = fake.set_status(reference, "requires_payment_method", last_payment_error=declined)
        core.payments.handle_webhook("stripe", *fake.event("payment_intent.payment_failed", failed))
        asked = len(fake.requests)
        receipt = core.payments.handle_webhook("stripe", *older)
        assert receipt.status is ReceiptStatus.APPLIED
        assert [(m, p) for m, p, _, _ in fake.requests[asked:]] == [
            ("GET", f"/v1/payment_intents/{reference}")
        ]
        (payment,) = core.payments.for_booking(booking.id, principal=ADMIN)
        assert (payment.status, payment.failure_reason) == (PaymentStatus.FAILED, "stolen_card")
        core.payments.handle_webhook(
            "stripe", *fake.event("payment_intent.succeeded", fake.succeed(reference))
        )
        assert core.bookings.get(booking.id, principal=ADMIN).status == "confirmed"

    def test_an_answer_stripe_cannot_give_leaves_the_event_received_until_redelivered(
        self, fake: FakeStripe
    ) -> None:
        core, booking, reference = self._core(fake)
        older = fake.event(
            "payment_intent.requires_action", fake.set_status(reference, "requires_action")
        )
        failed = fake.set_status(reference, "requires_payment_method", last_payment_error={})
        core.payments.handle_webhook("stripe", *fake.event("payment_intent.payment_failed", failed))
        fake.set_status(reference, "on_fire")  # an answer the adapter cannot read
        with pytest.raises(PaymentProviderError) as caught:
            core.payments.handle_webhook("stripe", *older)
        assert caught.value.reason == "unexpected_response"
        fake.succeed(reference)  # paid meanwhile; Stripe delivers the late event again
        receipt = core.payments.handle_webhook("stripe", *older)
        assert (receipt.status, receipt.attempts) == (ReceiptStatus.APPLIED, 2)
        (payment,) = core.payments.for_booking(booking.id, principal=ADMIN)
        assert payment.status is PaymentStatus.CAPTURED
        assert core.bookings.get(booking.id, principal=ADMIN).status == "confirmed"

    @staticmethod
    def _paid(fake: FakeStripe) -> tuple[BookingCore, Booking, str]:
        core, booking, reference = TestThroughThePaymentService._core(fake)
        core.payments.handle_webhook(
            "stripe", *fake.event("payment_intent.succeeded", fake.succeed(reference))
        )
        return core, booking, reference

    def test_a_refund_made_in_the_dashboard_is_recorded_once_and_settled(
        self, fake: FakeStripe
    ) -> None:
        core, booking, reference = self._paid(fake)
        refund = fake.refund_in_dashboard(reference, 100000)  # 1000.00 of 2500.00
        # Stripe sends both, in any order, each possibly more than once.
        created = fake.event("refund.created", refund)
        charged = fake.event("charge.refunded", fake.charge(reference))
        for delivery in (charged, created, created):
            core.payments.handle_webhook("stripe", *delivery)
        (payment,) = core.payments.for_booking(booking.id, principal=ADMIN)
        assert payment.status is PaymentStatus.PARTIALLY_REFUNDED
        assert payment.refunded_amount == Money("1000", "INR")
        _, credit = core.payments.invoices_for(booking.id, principal=ADMIN)
        assert credit.total == Money("-1000", "INR")
        assert credit.refund_id is not None

    def test_a_refund_webhook_before_stripes_answer_settles_the_pending_refund(
        self, fake: FakeStripe
    ) -> None:
        core, booking, reference = self._paid(fake)
        (payment,) = core.payments.for_booking(booking.id, principal=ADMIN)
        fake.lose_next_reply()  # Stripe refunds, the answer never arrives
        with pytest.raises(PaymentProviderError) as caught:
            core.payments.refund(
                payment.id, Money("500", "INR"), principal=ADMIN, idempotency_key="desk-1"
            )
        assert caught.value.retryable
        (made,) = [r for r in fake.refunds.values() if r["payment_intent"] == reference]
        core.payments.handle_webhook("stripe", *fake.event("refund.created", made))
        (payment,) = core.payments.for_booking(booking.id, principal=ADMIN)
        assert payment.refunded_amount == Money("500", "INR")
        assert payment.pending_refund_amount == Money("0", "INR")
        again = core.payments.refund(
            payment.id, Money("500", "INR"), principal=ADMIN, idempotency_key="desk-1"
        )
        assert (again.status, again.provider_reference) == (RefundStatus.SUCCEEDED, made["id"])
        assert [r for r in fake.refunds.values() if r["payment_intent"] == reference] == [made]

    def test_a_caller_key_of_255_characters_makes_one_intent(self, fake: FakeStripe) -> None:
        # The library takes keys of up to 255 characters and scopes them to the caller
        # ("customer:<id>:<key>"), which Stripe's limit of 255 would refuse: the adapter
        # sends a longer key as its digest, the same for every retry.
        core, booking, _ = self._core(fake)
        me = Principal.customer(booking.customer_id)
        key = "k" * 255
        made = len(fake.intents)
        first = core.payments.create_intent(
            booking.id, "stripe", principal=me, idempotency_key=key, amount=Money("100", "INR")
        )
        again = core.payments.create_intent(
            booking.id, "stripe", principal=me, idempotency_key=key, amount=Money("100", "INR")
        )
        assert again.replayed
        assert again.payment.id == first.payment.id
        sent = [h["idempotency-key"] for m, _, h, _ in fake.requests if m == "POST"]
        assert len(sent[-1]) <= 255
        assert sent[-1] == sent[-2]
        assert len(fake.intents) == made + 1

    def test_a_retried_refund_asks_stripe_what_the_first_call_asked(self, fake: FakeStripe) -> None:
        # Stripe answers a key reused with other parameters with an idempotency error: a retry
        # that gives another reason (or none) must not send it, or the refund Stripe made is
        # recorded failed and its amount counted as refundable again.
        core, booking, reference = self._paid(fake)
        (payment,) = core.payments.for_booking(booking.id, principal=ADMIN)
        fake.lose_next_reply()  # Stripe refunds, the answer never arrives
        with pytest.raises(PaymentProviderError):
            core.payments.refund(
                payment.id,
                Money("500", "INR"),
                principal=ADMIN,
                idempotency_key="desk-2",
                reason="the trek was closed",
            )
        again = core.payments.refund(
            payment.id, Money("500", "INR"), principal=ADMIN, idempotency_key="desk-2"
        )
        (made,) = [r for r in fake.refunds.values() if r["payment_intent"] == reference]
        assert (again.status, again.provider_reference) == (RefundStatus.SUCCEEDED, made["id"])
        assert again.reason == "the trek was closed"
        (payment,) = core.payments.for_booking(booking.id, principal=ADMIN)
        assert payment.refunded_amount == Money("500", "INR")
        assert payment.refundable_amount == Money("2000", "INR")
