"""Stripe as a :class:`~bookingcore.ports.payments.PaymentProvider`, over PaymentIntents.

:class:`StripeProvider` talks to Stripe through the official ``stripe`` SDK
(``pip install bookingcore[stripe]``), with a :class:`stripe.StripeClient` of
its own: no global ``stripe.api_key``, so two providers with two accounts (or
one pointed at a local fake) live side by side in one process.

* :meth:`~StripeProvider.create_intent` creates a PaymentIntent for the amount
  in the currency's minor units (JPY has none, KWD three; Stripe's own for ISK, two,
  and MGA, none), with the booking and payment ids in its metadata and the
  request's idempotency key sent as Stripe's ``Idempotency-Key``.
* :meth:`~StripeProvider.fetch` retrieves a PaymentIntent;
  :meth:`~StripeProvider.refund` creates a Refund against one.
* :meth:`~StripeProvider.parse_webhook` checks the ``Stripe-Signature`` header
  against the raw body with Stripe's published scheme (HMAC-SHA256 over
  ``"{t}." + body``, every ``v1`` value, every configured secret, so secrets
  can be rotated), then reads the event.

Every error the SDK raises becomes one of :mod:`bookingcore.errors` here, so
callers never see a ``stripe`` exception.

.. versionadded:: 0.2
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

import stripe

from bookingcore import SystemClock
from bookingcore.domain.payments import PaymentStatus, RefundStatus
from bookingcore.domain.values import Money
from bookingcore.errors import (
    AuthenticationError,
    BookingError,
    NotFoundError,
    PaymentProviderError,
    ValidationError,
)
from bookingcore.ports.clock import Clock
from bookingcore.ports.payments import (
    IntentRequest,
    ProviderCapabilities,
    ProviderIntent,
    ProviderPayment,
    ProviderRefund,
    WebhookEvent,
)

__all__ = [
    "STRIPE_CAPABILITIES",
    "StripeProvider",
    "payment_status",
    "refund_status",
    "sign_stripe_payload",
]

_NAME = "stripe"

#: What Stripe can do: every capability the port asks about.
STRIPE_CAPABILITIES = ProviderCapabilities(
    refunds=True,
    partial_refunds=True,
    needs_redirect=True,
    capture_later=True,
    webhooks=True,
    fetch_state=True,
)

_INTENT_STATUSES: dict[str, PaymentStatus] = {
    "requires_payment_method": PaymentStatus.PENDING,
    "requires_confirmation": PaymentStatus.PENDING,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "processing": PaymentStatus.PENDING,
    "requires_capture": PaymentStatus.AUTHORIZED,
    "succeeded": PaymentStatus.CAPTURED,
    "canceled": PaymentStatus.CANCELLED,
}

_REFUND_STATUSES: dict[str, RefundStatus] = {
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
}

#: ``payment_intent.*`` event types and the payment status each one reports.
_INTENT_EVENTS: dict[str, PaymentStatus] = {
    "payment_intent.succeeded": PaymentStatus.CAPTURED,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "payment_intent.canceled": PaymentStatus.CANCELLED,
    "payment_intent.requires_action": PaymentStatus.REQUIRES_ACTION,
    "payment_intent.amount_capturable_updated": PaymentStatus.AUTHORIZED,
    "payment_intent.processing": PaymentStatus.PENDING,
}

_REFUND_EVENTS = frozenset(
    {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
)

#: The refund reasons Stripe accepts; any other reason travels in the refund's metadata.
_STRIPE_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})

_SIGNATURE_HEADER = "stripe-signature"
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_MAX_HEADER = 8192
_METADATA_VALUE = 500  # Stripe's limit on one metadata value
_MAX_KEY = 255  # Stripe's limit on an Idempotency-Key
_KEY_METADATA = "idempotency_key"  # the refund's metadata key that holds its idempotency key

_T = TypeVar("_T")

#: Stripe's codes for an amount it refuses that every adapter answers alike: below the
#: currency's minimum charge, above its maximum or more than is left to refund.
_AMOUNT_CODES = frozenset({"amount_too_small", "amount_too_large"})

#: What Stripe answers a refund of a PaymentIntent that took no money (not paid yet, or
#: only authorized): every provider adapter says it as ``not_captured`` on ``reference``.
_NOT_CAPTURED_CODES = frozenset({"charge_not_refundable", "payment_intent_unexpected_state"})

#: Currencies Stripe counts in other units than ISO 4217's minor unit, and the digits
#: Stripe keeps: ISK in hundredths (two decimals, for backwards compatibility), MGA in
#: whole ariary (a zero-decimal currency at Stripe).
_STRIPE_DIGITS = {"ISK": 2, "MGA": 0}


def _check_api_key(value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.single("api_key", "is required", "required")


def _check_secrets(value: object) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        msg = "must be a list of signing secrets, not one string"
        raise ValidationError.single("webhook_secrets", msg, "invalid")
    secrets = tuple(value)
    if not secrets or not all(isinstance(s, str) and s.strip() for s in secrets):
        msg = "needs at least one signing secret, none blank"
        raise ValidationError.single("webhook_secrets", msg, "required")
    return secrets


def _check_tolerance(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        msg = "must be a whole number of seconds above zero"
        raise ValidationError.single("tolerance", msg, "invalid")


def _raw(value: object) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise AuthenticationError("the body must be the raw bytes received", field="body")
    return bytes(value)


def payment_status(stripe_status: str, *, failed: bool = False) -> PaymentStatus:
    """The :class:`~bookingcore.domain.PaymentStatus` of a PaymentIntent's ``status``.

    ``requires_payment_method`` and ``requires_confirmation`` are ``pending``,
    ``processing`` is ``pending``, ``requires_capture`` is ``authorized``,
    ``succeeded`` is ``captured`` and ``canceled`` is ``cancelled``. With
    ``failed=True`` (the intent carries a ``last_payment_error``),
    ``requires_payment_method`` is ``failed``: Stripe sends a declined intent
    back to that status for the customer to try again.

    Raises:
        ValueError: for a status Stripe does not document.

    .. versionadded:: 0.2
    """
    if failed and stripe_status == "requires_payment_method":
        return PaymentStatus.FAILED
    try:
        return _INTENT_STATUSES[stripe_status]
    except KeyError:
        msg = f"{stripe_status!r} is not a PaymentIntent status"
        raise ValueError(msg) from None


def refund_status(stripe_status: str | None) -> RefundStatus:
    """The :class:`~bookingcore.domain.RefundStatus` of a Stripe Refund's ``status``.

    ``pending`` and ``requires_action`` are ``pending`` (as is no status at
    all), ``succeeded`` is ``succeeded``, ``failed`` and ``canceled`` are ``failed``.

    Raises:
        ValueError: for a status Stripe does not document.

    .. versionadded:: 0.2
    """
    if stripe_status is None:
        return RefundStatus.PENDING
    try:
        return _REFUND_STATUSES[stripe_status]
    except KeyError:
        msg = f"{stripe_status!r} is not a Refund status"
        raise ValueError(msg) from None


def sign_stripe_payload(secret: str, raw_body: bytes, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value Stripe would send for ``raw_body`` at ``timestamp``.

    ``t=<timestamp>,v1=<hex HMAC-SHA256 of "{timestamp}." + raw_body under secret>``:
    for tests, local fakes and demos that deliver webhooks the way Stripe does.

    .. versionadded:: 0.2
    """
    return f"t={timestamp},v1={_digest(secret, str(timestamp), raw_body)}"


def _digest(secret: str, timestamp: str, raw_body: bytes) -> str:
    signed = timestamp.encode("ascii") + b"." + raw_body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def _refused(message: str) -> AuthenticationError:
    return AuthenticationError(f"stripe webhook refused: {message}", field="signature")


def _unreadable(message: str) -> ValidationError:
    return ValidationError.single("raw_body", f"stripe webhook: {message}", "invalid_webhook")


def _error_body(exc: stripe.StripeError) -> Mapping[str, Any]:
    body = exc.json_body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]  # type: ignore[no-any-return]
    return {}


def _message(exc: stripe.StripeError) -> str:
    return exc.user_message or type(exc).__name__


def _translate(exc: stripe.StripeError, *, action: str) -> BookingError:
    """The bookingcore error for one SDK error, raised while doing ``action``."""
    error = _error_body(exc)
    code = error.get("code") if isinstance(error.get("code"), str) else exc.code
    status = exc.http_status
    text = f"{action} failed: {_message(exc)}"
    if isinstance(exc, stripe.CardError):
        decline = error.get("decline_code")
        reason = decline if isinstance(decline, str) and decline else code
        return PaymentProviderError(text, provider=_NAME, reason=reason, retryable=False)
    if isinstance(exc, stripe.RateLimitError):
        return PaymentProviderError(
            text, provider=_NAME, reason=code or "rate_limit", retryable=True
        )
    if isinstance(exc, stripe.APIConnectionError):
        return PaymentProviderError(
            f"{action} failed: Stripe could not be reached ({_message(exc)})",
            provider=_NAME,
            reason="connection_error",
            retryable=True,
        )
    if isinstance(exc, stripe.AuthenticationError):
        # Our AuthenticationError is about the caller's credentials; this is the host's API key.
        return PaymentProviderError(
            f"{action} failed: Stripe refused the API key ({_message(exc)})",
            provider=_NAME,
            reason=code or "authentication_failed",
            retryable=False,
        )
    if isinstance(exc, stripe.PermissionError):
        return PaymentProviderError(
            text, provider=_NAME, reason=code or "permission_denied", retryable=False
        )
    if isinstance(exc, stripe.IdempotencyError):
        return PaymentProviderError(
            f"{action} failed: the idempotency key was used for a different request "
            f"({_message(exc)})",
            provider=_NAME,
            reason=code or "idempotency_error",
            retryable=False,
        )
    if isinstance(exc, stripe.InvalidRequestError) and error.get("param") == "amount":
        # The codes every provider adapter answers for a refused amount, so a host
        # handles them once: Stripe's own two, else that it was refused.
        agreed = code if code in _AMOUNT_CODES else "refused_by_provider"
        return ValidationError.single("amount", f"Stripe refused it: {_message(exc)}", agreed)
    # 409 is a concurrent request with the same idempotency key: trying again later works.
    retryable = status is None or status >= 500 or status == 409
    if isinstance(exc, stripe.InvalidRequestError):
        retryable = False
    return PaymentProviderError(text, provider=_NAME, reason=code, retryable=retryable)


def _positive(amount: Money) -> int:
    if not isinstance(amount, Money):
        raise ValidationError.single("amount", "must be Money", "invalid_amount")
    units = _stripe_units(amount)
    if units <= 0:
        raise ValidationError.single("amount", "must be above zero", "not_positive")
    return units


def _stripe_units(amount: Money) -> int:
    """``amount`` in the units Stripe counts its currency in (its minor unit, mostly).

    Raises:
        ValidationError: on ``amount`` when Stripe cannot count it in whole units
            (a fraction of an ariary).
    """
    digits = _STRIPE_DIGITS.get(amount.currency)
    if digits is None:
        return amount.minor_units
    scaled = amount.amount.scaleb(digits)
    if scaled != scaled.to_integral_value():
        msg = f"Stripe takes {amount.currency} in whole units of {Decimal(1).scaleb(-digits)}"
        raise ValidationError.single("amount", msg, "invalid_amount")
    return int(scaled)


def _from_stripe_units(units: int, currency: str) -> Money:
    """Money from ``units`` as Stripe counts ``currency`` (lower or upper case)."""
    digits = _STRIPE_DIGITS.get(currency.upper())
    if digits is None:
        return Money.from_minor_units(units, currency)
    if isinstance(units, bool) or not isinstance(units, int):
        raise ValidationError.single(
            "amount", "must be a whole number of minor units", "invalid_amount"
        )
    return Money(Decimal(units).scaleb(-digits), currency)


def _reference(value: object, field: str = "reference") -> str:
    # A blank one is missing, as every provider adapter says it (code "required").
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.single(field, "is required", "required")
    if value.strip() != value:
        msg = "must be a Stripe id (no surrounding spaces)"
        raise ValidationError.single(field, msg, "invalid_reference")
    return value


def _key(value: object) -> str:
    """The ``Idempotency-Key`` Stripe gets for ``value``: itself, or past Stripe's 255
    characters (a caller's key scoped by the payment service may be) its SHA-256, the
    same for every retry."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.single("idempotency_key", "is required", "required")
    if len(value) > _MAX_KEY:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return value


def _object_id(value: object) -> str | None:
    """An id field that may also come expanded into the whole object."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]  # type: ignore[no-any-return]
    return None


def _money(units: object, currency: object, field: str) -> Money:
    if isinstance(units, bool) or not isinstance(units, int) or not isinstance(currency, str):
        msg = f"{field} must be an integer count of minor units with a currency"
        raise _unreadable(msg)
    try:
        return _from_stripe_units(units, currency)
    except ValidationError as exc:
        raise _unreadable(f"{field}: {exc.message}") from None


class StripeProvider:
    """Take and give back money through Stripe PaymentIntents and Refunds.

    Args:
        api_key: the secret key (``sk_live_...``, ``sk_test_...``, or a
            restricted ``rk_...`` key with PaymentIntents and Refunds write access).
        webhook_secrets: the signing secrets (``whsec_...``) a webhook may be
            signed with; a delivery verifies if any ``v1`` signature matches
            any of them. List the new secret next to the old one while Stripe
            rolls a secret, then drop the old one.
        api_base: where Stripe's API is (``https://api.stripe.com`` when not
            given); tests and demos point it at a local fake.
        tolerance: how many seconds a webhook's signed timestamp may be away
            from now, either way, before it is refused as a replay.
        clock: tells the time for that check (the system clock when not given).
        max_network_retries: how many times the SDK retries a request that
            failed in a way Stripe calls retryable (a lost connection, a 409, a
            5xx); safe, as every write carries an idempotency key.
        http_client: the SDK HTTP client to use (to set timeouts or a proxy).

    Raises:
        ValidationError: on ``api_key``, ``webhook_secrets`` or ``tolerance``
            when missing or malformed.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        api_key: str,
        webhook_secrets: Sequence[str],
        *,
        api_base: str | None = None,
        tolerance: int = 300,
        clock: Clock | None = None,
        max_network_retries: int = 0,
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        _check_api_key(api_key)
        secrets = _check_secrets(webhook_secrets)
        _check_tolerance(tolerance)
        if api_base is not None and not api_base.startswith(("https://", "http://")):
            msg = "must be an http(s) URL"
            raise ValidationError.single("api_base", msg, "invalid_url")
        self._secrets = secrets
        self._tolerance = tolerance
        self._clock: Clock = clock or SystemClock()
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=http_client,
        )

    def __repr__(self) -> str:  # never show the key
        return f"StripeProvider(secrets={len(self._secrets)}, tolerance={self._tolerance})"

    @property
    def name(self) -> str:
        """``"stripe"``."""
        return _NAME

    @property
    def capabilities(self) -> ProviderCapabilities:
        """Refunds (partial too), a client secret, capture later, webhooks, fetching state."""
        return STRIPE_CAPABILITIES

    # ------------------------------------------------------------------ API calls

    def _call(self, action: str, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except stripe.StripeError as exc:
            raise _translate(exc, action=action) from exc

    def _read(self, action: str, read: Callable[[], _T]) -> _T:
        """Read a response, treating a shape we cannot read as the provider's fault."""
        try:
            return read()
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            msg = f"{action}: Stripe's answer could not be read ({exc})"
            raise PaymentProviderError(msg, provider=_NAME, reason="unexpected_response") from exc

    def create_intent(self, request: IntentRequest) -> ProviderIntent:
        """Create a PaymentIntent for ``request.amount``; the same key returns the same intent.

        The metadata carries ``request.metadata`` plus ``booking_id`` and
        ``payment_id``; ``description`` and ``receipt_email`` are passed on.

        Raises:
            ValidationError: on ``amount`` (not above zero, or refused by Stripe
                as too small or too large) or ``idempotency_key``.
            PaymentProviderError: Stripe refused or could not be reached.
        """
        units = _positive(request.amount)
        key = _key(request.idempotency_key)
        metadata = {str(k): str(v)[:_METADATA_VALUE] for k, v in request.metadata.items()}
        metadata["booking_id"] = str(request.booking_id)
        metadata["payment_id"] = str(request.payment_id)
        params: stripe.params.PaymentIntentCreateParams = {
            "amount": units,
            "currency": request.amount.currency.lower(),
            "metadata": metadata,
        }
        if request.description:
            params["description"] = request.description
        if request.receipt_email:
            params["receipt_email"] = request.receipt_email
        intent = self._call(
            "creating a payment intent",
            lambda: self._client.v1.payment_intents.create(
                params, options={"idempotency_key": key}
            ),
        )
        return self._read("creating a payment intent", lambda: self._intent(intent))

    def _intent(self, intent: stripe.PaymentIntent) -> ProviderIntent:
        redirect = None
        action = getattr(intent, "next_action", None)
        if action is not None and getattr(action, "type", None) == "redirect_to_url":
            redirect = getattr(action.redirect_to_url, "url", None)
        return ProviderIntent(
            reference=_reference(intent.id),
            status=payment_status(
                intent.status, failed=bool(getattr(intent, "last_payment_error", None))
            ),
            amount=_from_stripe_units(intent.amount, intent.currency),
            client_secret=getattr(intent, "client_secret", None),
            redirect_url=redirect,
        )

    def fetch(self, reference: str) -> ProviderPayment:
        """Retrieve the PaymentIntent ``reference`` as Stripe sees it now.

        ``captured`` is its ``amount_received``; ``failure_reason`` the decline
        code (or error code, or message) of its last failed attempt.

        Raises:
            NotFoundError: Stripe knows no such PaymentIntent.
            ValidationError: on ``reference`` when blank (``required``).
            PaymentProviderError: Stripe refused or could not be reached.
        """
        reference = _reference(reference)
        try:
            intent = self._client.v1.payment_intents.retrieve(reference)
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing" or exc.http_status == 404:
                raise NotFoundError("stripe payment intent", reference) from exc
            raise _translate(exc, action="fetching a payment intent") from exc
        except stripe.StripeError as exc:
            raise _translate(exc, action="fetching a payment intent") from exc
        return self._read("fetching a payment intent", lambda: self._payment(intent))

    def _payment(self, intent: stripe.PaymentIntent) -> ProviderPayment:
        error = getattr(intent, "last_payment_error", None)
        failure = None
        if error:
            failure = (
                getattr(error, "decline_code", None)
                or getattr(error, "code", None)
                or getattr(error, "message", None)
            )
        return ProviderPayment(
            reference=_reference(intent.id),
            status=payment_status(intent.status, failed=bool(error)),
            amount=_from_stripe_units(intent.amount, intent.currency),
            captured=_from_stripe_units(intent.amount_received or 0, intent.currency),
            failure_reason=failure,
        )

    def refund(
        self, reference: str, amount: Money, *, idempotency_key: str, reason: str | None = None
    ) -> ProviderRefund:
        """Refund ``amount`` of the PaymentIntent ``reference``, once per key.

        ``amount`` must be in the payment's currency (the payment service
        checks it against the stored payment). A ``reason`` Stripe knows
        (``duplicate``, ``fraudulent``, ``requested_by_customer``) is sent as
        the refund's reason; any other is kept in its metadata as ``reason``.
        The key is kept in the refund's metadata as ``idempotency_key`` too, so
        the refund's webhooks name it (:attr:`WebhookEvent.refund_key`).

        Raises:
            ValidationError: on ``amount`` when not above zero or more than is
                left to refund (``amount_too_large``); on ``reference`` when
                blank (``required``) or when the PaymentIntent took no money
                (``not_captured``: Stripe's ``charge_not_refundable`` or
                ``payment_intent_unexpected_state``); on ``idempotency_key``.
            PaymentProviderError: Stripe refused or could not be reached.

        .. versionchanged:: 0.4
           A blank reference is ``required`` (was ``invalid_reference``), and a
           PaymentIntent that took no money is a ``ValidationError`` on
           ``reference`` (``not_captured``; was a ``PaymentProviderError``).
        """
        reference = _reference(reference)
        units = _positive(amount)
        key = _key(idempotency_key)
        metadata: dict[str, str] = {}
        params: stripe.params.RefundCreateParams = {"payment_intent": reference, "amount": units}
        if reason:
            known = reason.strip().lower()
            if known in _STRIPE_REFUND_REASONS:
                params["reason"] = _stripe_reason(known)
            else:
                metadata["reason"] = reason[:_METADATA_VALUE]
        # Echoed on the refund's webhooks, which may arrive before this call answers.
        metadata[_KEY_METADATA] = key[:_METADATA_VALUE]
        params["metadata"] = metadata
        try:
            refund = self._call(
                "refunding a payment",
                lambda: self._client.v1.refunds.create(params, options={"idempotency_key": key}),
            )
        except PaymentProviderError as exc:
            if exc.reason not in _NOT_CAPTURED_CODES:
                raise
            msg = f"{reference} has no captured payment to refund ({exc.message})"
            raise ValidationError.single("reference", msg, "not_captured") from exc
        return self._read(
            "refunding a payment",
            lambda: ProviderRefund(
                reference=_reference(refund.id),
                status=refund_status(getattr(refund, "status", None)),
                amount=_from_stripe_units(refund.amount, refund.currency),
                failure_reason=getattr(refund, "failure_reason", None),
            ),
        )

    # ------------------------------------------------------------------ webhooks

    def parse_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> WebhookEvent:
        """Verify ``Stripe-Signature`` over ``raw_body``, then read the event.

        The header is ``t=<unix time>,v1=<hex>[,v1=<hex>...]`` (other schemes
        such as ``v0`` are ignored). The delivery verifies when some ``v1``
        equals HMAC-SHA256 of ``"{t}." + raw_body`` under some configured
        secret (compared in constant time) and ``t`` is within ``tolerance``
        seconds of the clock, either way. Only then is the body parsed.

        The event's ``data.object`` gives ``payment_reference`` (a
        PaymentIntent's id, or the ``payment_intent`` of a charge or refund),
        ``status`` for the ``payment_intent.*`` events the core acts on,
        ``refund_reference`` and ``refund_status`` for ``refund.*`` events and
        ``charge.refunded`` (from the newest refund embedded in the charge),
        with that refund's ``refund_amount`` and ``refund_key`` (the
        ``idempotency_key`` in its metadata, which :meth:`refund` puts there),
        ``amount`` (what was received for ``payment_intent.succeeded``, what
        can be captured for ``amount_capturable_updated``, the refunded total
        for ``charge.refunded``, else the object's ``amount``) and
        ``occurred_at`` from ``created``. Other event types come back with
        ``status`` None: recorded, not acted on.

        Raises:
            AuthenticationError: the header is missing or malformed, no
                signature matches, or the timestamp is outside the tolerance.
            ValidationError: on ``raw_body`` when a verified body is not a
                Stripe event.
        """
        self.verify_signature(headers, raw_body)
        try:
            event = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError):
            raise _unreadable("the body is not JSON") from None
        return _read_event(event)

    def verify_signature(self, headers: Mapping[str, str], raw_body: bytes) -> None:
        """Check the ``Stripe-Signature`` header against ``raw_body`` and the clock.

        Raises:
            AuthenticationError: as :meth:`parse_webhook` says.
        """
        raw_body = _raw(raw_body)
        header = next((v for k, v in headers.items() if k.lower() == _SIGNATURE_HEADER), None)
        if not isinstance(header, str) or not header.strip():
            raise _refused("no Stripe-Signature header")
        timestamp, signatures = _parse_header(header)
        expected = [_digest(secret, timestamp, raw_body) for secret in self._secrets]
        matched = False
        for given in signatures:
            for wanted in expected:
                # no early exit: every pair is compared, in constant time
                matched |= hmac.compare_digest(given.encode("ascii"), wanted.encode("ascii"))
        if not matched:
            raise _refused("no v1 signature matches a configured webhook secret")
        age = self._clock.now().timestamp() - int(timestamp)
        if age > self._tolerance:
            msg = f"the signature is {age:.0f} s old; at most {self._tolerance} s is accepted"
            raise _refused(msg)
        if -age > self._tolerance:
            msg = (
                f"the signature is dated {-age:.0f} s in the future; "
                f"at most {self._tolerance} s is accepted"
            )
            raise _refused(msg)


def _stripe_reason(
    reason: str,
) -> Literal["duplicate", "fraudulent", "requested_by_customer"]:
    if reason == "duplicate":
        return "duplicate"
    if reason == "fraudulent":
        return "fraudulent"
    return "requested_by_customer"


def _parse_header(header: str) -> tuple[str, list[str]]:
    """``(t, [v1, ...])`` from a ``Stripe-Signature`` header, or refuse it."""
    if len(header) > _MAX_HEADER:
        raise _refused("the Stripe-Signature header is too long")
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        scheme, sep, value = item.strip().partition("=")
        if not sep or not scheme or not value:
            raise _refused("the Stripe-Signature header is not 't=...,v1=...'")
        if scheme == "t":
            timestamps.append(value)
        elif scheme == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise _refused("the Stripe-Signature header needs one timestamp 't=<unix time>'")
    if not signatures:
        raise _refused("the Stripe-Signature header has no v1 signature")
    # A value that cannot be a v1 signature cannot match; keeping only well-formed ones
    # keeps compare_digest on ASCII.
    return timestamps[0], [s for s in signatures if _HEX_SIGNATURE.fullmatch(s)]


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise _unreadable(f"{field} is missing")
    return value


def _read_event(event: object) -> WebhookEvent:
    if not isinstance(event, dict):
        raise _unreadable("the body is not a JSON object")
    event_id = _text(event.get("id"), "id")
    kind = _text(event.get("type"), "type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise _unreadable("data.object is missing")
    occurred_at = None
    created = event.get("created")
    if created is not None:
        if isinstance(created, bool) or not isinstance(created, int):
            raise _unreadable("created is not a unix time")
        occurred_at = datetime.fromtimestamp(created, UTC)
    object_kind = obj.get("object")
    if object_kind == "payment_intent":
        payment_reference = _object_id(obj.get("id"))
    else:
        payment_reference = _object_id(obj.get("payment_intent"))
    currency = obj.get("currency")

    status = None
    amount = None
    refund_reference = None
    refund_state = None
    refund: Mapping[str, Any] | None = None
    if kind in _INTENT_EVENTS and object_kind == "payment_intent":
        status = _INTENT_EVENTS[kind]
        field = {
            "payment_intent.succeeded": "amount_received",
            "payment_intent.amount_capturable_updated": "amount_capturable",
        }.get(kind, "amount")
        units = obj.get(field, obj.get("amount"))
        amount = _money(units, currency, f"data.object.{field}")
    elif kind in _REFUND_EVENTS and object_kind == "refund":
        refund = obj
        amount = _money(obj.get("amount"), currency, "data.object.amount")
    elif kind == "charge.refunded" and object_kind == "charge":
        amount = _money(obj.get("amount_refunded"), currency, "data.object.amount_refunded")
        refund = _newest_refund(obj)
    elif isinstance(obj.get("amount"), int) and isinstance(currency, str):
        amount = _money(obj.get("amount"), currency, "data.object.amount")
    refund_amount = None
    refund_key = None
    if refund is not None:
        refund_reference = _object_id(refund.get("id"))
        refund_state = _refund_state(refund.get("status"))
        if "amount" in refund:
            where = "data.object" if refund is obj else "the charge's newest refund"
            refund_amount = _money(
                refund.get("amount"), refund.get("currency", currency), f"{where}.amount"
            )
        metadata = refund.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get(_KEY_METADATA), str):
            refund_key = metadata[_KEY_METADATA] or None
    return WebhookEvent(
        provider=_NAME,
        event_id=event_id,
        kind=kind,
        payload=event,
        payment_reference=payment_reference,
        status=status,
        amount=amount,
        refund_reference=refund_reference,
        refund_status=refund_state,
        occurred_at=occurred_at,
        refund_amount=refund_amount,
        refund_key=refund_key,
    )


def _refund_state(value: object) -> RefundStatus:
    if value is not None and not isinstance(value, str):
        raise _unreadable("the refund's status is not text")
    try:
        return refund_status(value)
    except ValueError as exc:
        raise _unreadable(str(exc)) from None


def _newest_refund(charge: Mapping[str, Any]) -> Mapping[str, Any] | None:
    refunds = charge.get("refunds")
    listed = refunds.get("data") if isinstance(refunds, dict) else None
    if isinstance(listed, list) and listed and isinstance(listed[0], dict):
        return listed[0]  # Stripe lists a charge's refunds newest first
    return None
