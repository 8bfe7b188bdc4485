"""Razorpay orders through the official ``razorpay`` SDK (``pip install bookingcore[razorpay]``).

:class:`RazorpayProvider` creates a Razorpay *order* per intent (the customer
pays it in Razorpay Checkout with the order id), reads an order and its
payments back, refunds a captured payment, and verifies webhooks
(``X-Razorpay-Signature``: the hex HMAC-SHA256 of the raw body under the
webhook secret; ``x-razorpay-event-id`` is the dedupe key).

Every SDK or ``requests`` exception becomes a
:class:`~bookingcore.errors.PaymentProviderError` (``reason`` is Razorpay's
error code, ``retryable`` for timeouts, connection failures, 409, 429 and
5xx), or a :class:`~bookingcore.errors.NotFoundError` for an order or payment
Razorpay does not know; nothing from the SDK escapes. Razorpay's refusal of an
order's or refund's ``amount`` (a 400 naming ``"field": "amount"``) is a
:class:`~bookingcore.errors.ValidationError` on ``amount``, with the code
Stripe's adapter gives the same refusal (``amount_too_small``,
``amount_too_large``, else ``refused_by_provider``).

.. versionadded:: 0.2
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import razorpay
import razorpay.errors
import requests

from bookingcore.domain.payments import PaymentStatus, RefundStatus
from bookingcore.domain.values import Money
from bookingcore.errors import (
    AuthenticationError,
    BookingError,
    IdempotencyConflictError,
    NotFoundError,
    PaymentProviderError,
    ValidationError,
)
from bookingcore.ports.payments import (
    IntentRequest,
    ProviderCapabilities,
    ProviderIntent,
    ProviderPayment,
    ProviderRefund,
    WebhookEvent,
)

__all__ = ["RazorpayProvider"]

PROVIDER = "razorpay"
_CAPABILITIES = ProviderCapabilities(
    refunds=True,
    partial_refunds=True,
    needs_redirect=True,
    capture_later=True,
    webhooks=True,
    fetch_state=True,
)
#: Razorpay's limits on notes: 15 pairs, values of at most 256 characters.
_MAX_NOTES = 15
_MAX_NOTE_VALUE = 256
_NOT_FOUND = "the id provided does not exist"
_KEY_NOTE = "idempotency_key"  # the refund's note that holds its idempotency key
_VENDOR_ERRORS = (
    razorpay.errors.BadRequestError,
    razorpay.errors.GatewayError,
    razorpay.errors.ServerError,
    razorpay.errors.SignatureVerificationError,
)

_PAYMENT_EVENTS = {
    "payment.authorized": PaymentStatus.AUTHORIZED,
    "payment.captured": PaymentStatus.CAPTURED,
    "payment.failed": PaymentStatus.FAILED,
    "order.paid": PaymentStatus.CAPTURED,
}
_REFUND_EVENTS = {
    "refund.created": RefundStatus.PENDING,
    "refund.processed": RefundStatus.SUCCEEDED,
    "refund.failed": RefundStatus.FAILED,
}
_REFUND_STATUSES = {
    "pending": RefundStatus.PENDING,
    "processed": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
}


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _receipt(idempotency_key: str) -> str:
    """The order's receipt for a key: at most 40 characters, as Razorpay allows."""
    return f"bk_{_digest(idempotency_key, 32)}"


def _refund_idempotency(idempotency_key: str) -> str:
    """``X-Refund-Idempotency`` for a key: 10+ characters of ``[A-Za-z0-9_-]``, as documented."""
    return f"bk-{_digest(idempotency_key, 40)}"


def _required_text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.single(field, "is required", "required")
    return value


def _entity(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        msg = f"answered with something that is not {what}"
        raise PaymentProviderError(msg, provider=PROVIDER, reason="unexpected_response")
    return value


def _money(entity: Mapping[str, Any], field: str, key: str = "amount") -> Money:
    units = entity.get(key)
    currency = entity.get("currency")
    if isinstance(units, bool) or not isinstance(units, int) or not isinstance(currency, str):
        msg = f"must hold whole minor units and a currency, got {units!r} {currency!r}"
        raise ValidationError.single(field, msg, "invalid_amount")
    return Money.from_minor_units(units, currency)


def _unreadable(message: str) -> ValidationError:
    """A verified delivery the adapter cannot read: on ``raw_body``, the port's parameter."""
    return ValidationError.single("raw_body", f"razorpay webhook: {message}", "invalid_webhook")


def _event_money(entity: Mapping[str, Any], where: str) -> Money:
    try:
        return _money(entity, f"{where}.amount")
    except ValidationError as exc:
        raise _unreadable(exc.message) from None


def _amount_code(description: str) -> str:
    """The code every adapter gives an amount the provider refused, from Razorpay's words.

    Razorpay says ``The amount must be atleast INR 1.00`` for an amount under its
    minimum, and names the amount as greater than what is captured (a refund) or
    than its maximum for one too large; it has no code of its own for either.
    """
    words = description.lower()
    if "atleast" in words or "at least" in words or "minimum" in words:
        return "amount_too_small"
    if "greater than" in words or "exceed" in words or "maximum" in words:
        return "amount_too_large"
    return "refused_by_provider"


class _LastResponse:
    """The HTTP status and error body of the last response seen on each thread.

    The SDK raises its errors with the description only; the status (404,
    401, 409, 5xx) and the error's ``field`` are read from here to map them.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def hook(self, response: Any, *args: object, **kwargs: object) -> None:
        self._local.status = int(response.status_code)
        self._local.error = None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            error = body.get("error") if isinstance(body, dict) else None
            self._local.error = error if isinstance(error, dict) else None

    def clear(self) -> None:
        self._local.status = None
        self._local.error = None

    def status(self) -> int | None:
        status: int | None = getattr(self._local, "status", None)
        return status

    def error(self) -> dict[str, Any]:
        error: dict[str, Any] | None = getattr(self._local, "error", None)
        return error or {}


class RazorpayProvider:
    """Razorpay orders, refunds and webhooks, through the official SDK.

    Args:
        key_id: the API key id (``rzp_live_...``, ``rzp_test_...``).
        key_secret: the API key secret; requests use HTTP basic auth.
        webhook_secret: the secret set on the webhook in the dashboard.
        base_url: where the API lives (default ``https://api.razorpay.com``,
            given to the SDK's ``base_url`` client option); tests point it at a
            local server.
        timeout: seconds to wait for each HTTP answer (the SDK sets none).

    **Intents are orders.** :meth:`create_intent` creates an order for the
    amount in minor units (paise; yen for JPY; fils for KWD), with notes
    holding ``booking_id``, ``payment_id`` and the request's metadata, and
    answers the order id as both ``reference`` and ``client_secret`` (what
    Checkout needs). Razorpay has no idempotency header for orders, so the
    order's ``receipt`` is derived from the idempotency key and the provider
    looks an order with that receipt up before creating one: a retried call
    returns the first order, and a retry for another amount or currency is an
    :class:`~bookingcore.errors.IdempotencyConflictError`. Two calls with one
    key *at the same instant* may still both create an order; the payment
    service makes one intent per key, so it never sends two at once.

    **Refunds** go to the order's captured payment (``POST
    /v1/payments/{id}/refund``) with the ``X-Refund-Idempotency`` header that
    Razorpay documents, derived from the idempotency key, so a retried refund
    is refunded once; the key itself goes in the refund's ``notes``, which its
    webhooks carry back.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        key_id: str,
        key_secret: str,
        webhook_secret: str,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._key_id = _required_text(key_id, "key_id")
        self._key_secret = _required_text(key_secret, "key_secret")
        self._webhook_secret = _required_text(webhook_secret, "webhook_secret").encode("utf-8")
        if timeout <= 0:
            raise ValidationError.single("timeout", "must be more than zero", "out_of_range")
        self._timeout = timeout
        self._last = _LastResponse()
        session = requests.Session()
        session.hooks["response"].append(self._last.hook)
        options: dict[str, Any] = {}
        if base_url is not None:
            options["base_url"] = _required_text(base_url, "base_url").rstrip("/")
        self._client: Any = razorpay.Client(
            session=session, auth=(self._key_id, self._key_secret), **options
        )
        self._session = session

    def close(self) -> None:
        """Close the HTTP connections this provider keeps open."""
        self._session.close()

    def __repr__(self) -> str:
        return f"RazorpayProvider(key_id={self._key_id!r})"

    @property
    def name(self) -> str:
        """``"razorpay"``."""
        return PROVIDER

    @property
    def capabilities(self) -> ProviderCapabilities:
        """Refunds (partial too), Checkout with the order id, capture later, webhooks, fetching."""
        return _CAPABILITIES

    # -- the API ---------------------------------------------------------

    def create_intent(self, request: IntentRequest) -> ProviderIntent:
        """Create the order for ``request.amount``, or return the one made for its key.

        Raises:
            ValidationError: on ``idempotency_key`` (empty: ``required``),
                ``amount`` (not above zero: ``not_positive``; below Razorpay's
                minimum for the currency: ``amount_too_small``; above its
                maximum: ``amount_too_large``) or ``metadata`` (more pairs or
                longer values than Razorpay's notes hold).
            IdempotencyConflictError: the key made an order for another amount.
            PaymentProviderError: Razorpay refused or could not be reached.
        """
        key = _required_text(request.idempotency_key, "idempotency_key")
        if request.amount.amount <= 0:
            raise ValidationError.single("amount", "must be above zero", "not_positive")
        notes = self._notes(request)
        receipt = _receipt(key)
        order = self._order_with_receipt(receipt, str(request.payment_id))
        if order is None:
            body = {
                "amount": request.amount.minor_units,
                "currency": request.amount.currency,
                "receipt": receipt,
                "notes": notes,
            }
            order = _entity(
                self._call(
                    "create the order",
                    lambda: self._client.order.create(body, **self._kw),
                    amount_refusal=True,
                ),
                "an order",
            )
        amount = _money(order, "order.amount")
        if amount != request.amount:
            raise IdempotencyConflictError(key)
        order_id = self._id(order, "order")
        status = PaymentStatus.CAPTURED if order.get("status") == "paid" else PaymentStatus.PENDING
        return ProviderIntent(
            reference=order_id, status=status, amount=amount, client_secret=order_id
        )

    def fetch(self, reference: str) -> ProviderPayment:
        """The order ``reference`` and its payments, read into one state.

        A captured payment makes the order ``captured`` (``partially_refunded``
        or ``refunded`` once money went back); else an authorized one makes it
        ``authorized``; else an attempted order whose payments all failed is
        ``failed`` (the customer may still try again); else it is ``pending``.

        Raises:
            NotFoundError: Razorpay knows no such order.
            PaymentProviderError: Razorpay could not be reached or refused.
        """
        order_id = _required_text(reference, "reference")
        order = _entity(
            self._call(
                "fetch the order",
                lambda: self._client.order.fetch(order_id, **self._kw),
                not_found=("razorpay order", order_id),
            ),
            "an order",
        )
        amount = _money(order, "order.amount")
        payments = self._payments(order_id)
        return self._state(order, amount, payments)

    def refund(
        self, reference: str, amount: Money, *, idempotency_key: str, reason: str | None = None
    ) -> ProviderRefund:
        """Refund ``amount`` of the captured payment of order ``reference`` (or of ``pay_...``).

        Raises:
            ValidationError: on ``amount`` when it is not above zero
                (``not_positive``), is in another currency, or is more than
                what is left to refund (``amount_too_large``); on
                ``reference`` when it is blank (``required``) or names an order
                or payment with nothing captured (``not_captured``); on
                ``idempotency_key`` when it is empty (``required``).

        .. versionchanged:: 0.4
           Nothing captured is ``not_captured`` on ``reference`` (was on ``amount``).
            NotFoundError: Razorpay knows no such order or payment.
            PaymentProviderError: Razorpay refused or could not be reached.
        """
        key = _required_text(idempotency_key, "idempotency_key")
        ref = _required_text(reference, "reference")
        if amount.amount <= 0:
            raise ValidationError.single("amount", "must be above zero", "not_positive")
        payment = self._captured_payment(ref)
        captured = _money(payment, "payment.amount")
        if amount.currency != captured.currency:
            msg = f"must be in {captured.currency}, the payment's currency"
            raise ValidationError.single("amount", msg, "currency_mismatch")
        # What is left to refund is Razorpay's to check: a retry of a refund that
        # used it all up must still answer that refund (X-Refund-Idempotency).
        notes = {_KEY_NOTE: key[:_MAX_NOTE_VALUE]}  # echoed on the refund's webhooks
        if reason:
            notes["reason"] = reason[:_MAX_NOTE_VALUE]
        payment_id = self._id(payment, "payment")
        headers = {"X-Refund-Idempotency": _refund_idempotency(key)}
        body = {"amount": amount.minor_units, "notes": notes}
        refund = _entity(
            self._call(
                "refund the payment",
                lambda: self._client.payment.refund(payment_id, body, headers=headers, **self._kw),
                not_found=("razorpay payment", payment_id),
                idempotency_key=key,
                amount_refusal=True,
            ),
            "a refund",
        )
        status = _REFUND_STATUSES.get(str(refund.get("status")), RefundStatus.PENDING)
        return ProviderRefund(
            reference=self._id(refund, "refund"),
            status=status,
            amount=_money(refund, "refund.amount"),
        )

    # -- webhooks --------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> WebhookEvent:
        """Verify ``X-Razorpay-Signature`` over the raw body, then read the event.

        The signature covers the body only; ``x-razorpay-event-id`` (required)
        is the dedupe key, and the body's ``created_at`` becomes
        ``occurred_at``. Payment events and ``order.paid`` set ``status``;
        ``refund.*`` events set ``refund_reference``, ``refund_status``,
        ``refund_amount`` and ``refund_key`` (the ``idempotency_key`` note
        :meth:`refund` sends; none for a refund made in the dashboard);
        ``payment_reference`` is always the *order* id, as
        :meth:`create_intent` answers it. Other events are read with
        ``status`` None.

        Raises:
            AuthenticationError: the body is not bytes, the signature or event
                id header is missing, or the signature does not match the body.
            ValidationError: on ``raw_body`` (code ``invalid_webhook``) when a
                verified body is not a Razorpay event, or one whose amounts
                cannot be read.
        """
        if not isinstance(raw_body, bytes | bytearray):
            raise AuthenticationError("the body must be the raw bytes received", field="body")
        raw_body = bytes(raw_body)
        lowered = {name.lower(): value for name, value in headers.items()}
        signature = lowered.get("x-razorpay-signature", "").strip()
        if not signature:
            msg = "the X-Razorpay-Signature header is missing"
            raise AuthenticationError(msg, field="signature")
        expected = hmac.new(self._webhook_secret, raw_body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
            msg = "the X-Razorpay-Signature does not match the body"
            raise AuthenticationError(msg, field="signature")
        event_id = lowered.get("x-razorpay-event-id", "").strip()
        if not event_id:
            msg = "the x-razorpay-event-id header is missing"
            raise AuthenticationError(msg, field="event_id")
        return self._event(event_id, self._body(raw_body))

    @staticmethod
    def _body(raw_body: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw_body)
        except ValueError:
            body = None
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("event"), str)
            or not isinstance(body.get("payload"), dict)
        ):
            raise _unreadable(
                "the body is not a Razorpay event (an object with 'event' and 'payload')"
            )
        return body

    def _event(self, event_id: str, body: dict[str, Any]) -> WebhookEvent:
        kind: str = body["event"]
        payload: dict[str, Any] = body["payload"]
        payment = self._payload_entity(payload, "payment")
        order = self._payload_entity(payload, "order")
        refund = self._payload_entity(payload, "refund")
        order_id = payment.get("order_id") or order.get("id")
        created_at = body.get("created_at")
        occurred_at = (
            datetime.fromtimestamp(created_at, UTC)
            if isinstance(created_at, int) and not isinstance(created_at, bool)
            else None
        )
        payment_reference = order_id if isinstance(order_id, str) else None
        status: PaymentStatus | None = None
        amount: Money | None = None
        refund_reference: str | None = None
        refund_status: RefundStatus | None = None
        refund_key: str | None = None
        if kind in _PAYMENT_EVENTS:
            status = _PAYMENT_EVENTS[kind]
            if payment:
                amount = _event_money(payment, "payload.payment.entity")
            elif order:
                amount = _event_money(order, "payload.order.entity")
        elif kind in _REFUND_EVENTS and refund:
            amount = _event_money(refund, "payload.refund.entity")
            refund_id = refund.get("id")
            refund_reference = refund_id if isinstance(refund_id, str) else None
            refund_status = _REFUND_EVENTS[kind]
            notes = refund.get("notes")  # a list when empty, as Razorpay sends it
            if isinstance(notes, dict) and isinstance(notes.get(_KEY_NOTE), str):
                refund_key = notes[_KEY_NOTE] or None
        return WebhookEvent(
            provider=PROVIDER,
            event_id=event_id,
            kind=kind,
            payload=body,
            payment_reference=payment_reference,
            status=status,
            amount=amount,
            refund_reference=refund_reference,
            refund_status=refund_status,
            occurred_at=occurred_at,
            refund_amount=amount if refund_reference is not None else None,
            refund_key=refund_key,
        )

    @staticmethod
    def _payload_entity(payload: Mapping[str, Any], name: str) -> dict[str, Any]:
        wrapper = payload.get(name)
        entity = wrapper.get("entity") if isinstance(wrapper, dict) else None
        return entity if isinstance(entity, dict) else {}

    # -- helpers ---------------------------------------------------------

    @property
    def _kw(self) -> dict[str, Any]:
        return {"timeout": self._timeout}

    @staticmethod
    def _notes(request: IntentRequest) -> dict[str, str]:
        notes = dict(request.metadata)
        if request.description:
            notes["description"] = request.description
        notes["booking_id"] = str(request.booking_id)
        notes["payment_id"] = str(request.payment_id)
        if len(notes) > _MAX_NOTES:
            msg = f"Razorpay keeps at most {_MAX_NOTES} notes, booking_id and payment_id included"
            raise ValidationError.single("metadata", msg, "too_many")
        for name, value in notes.items():
            if len(value) > _MAX_NOTE_VALUE:
                msg = f"{name!r} is longer than the {_MAX_NOTE_VALUE} characters Razorpay keeps"
                raise ValidationError.single("metadata", msg, "too_long")
        return notes

    @staticmethod
    def _id(entity: Mapping[str, Any], what: str) -> str:
        value = entity.get("id")
        if not isinstance(value, str) or not value:
            msg = f"answered a {what} without an id"
            raise PaymentProviderError(msg, provider=PROVIDER, reason="unexpected_response")
        return value

    def _order_with_receipt(self, receipt: str, payment_id: str) -> dict[str, Any] | None:
        """The order made for ``receipt``: the one made for ``payment_id`` if any, else the
        first made."""
        found = _entity(
            self._call(
                "look the order up by receipt",
                lambda: self._client.order.all({"receipt": receipt}, **self._kw),
            ),
            "a collection",
        )
        items = found.get("items")
        orders = [
            item
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and item.get("receipt") == receipt
        ]
        # Should two racing calls both have created one, each is the answer for the payment
        # it was made for (its notes name it); for any other, the first made.
        orders.sort(key=lambda order: (order.get("created_at") or 0, str(order.get("id"))))
        for order in orders:
            notes = order.get("notes")
            if isinstance(notes, dict) and notes.get("payment_id") == payment_id:
                return order
        return orders[0] if orders else None

    def _payments(self, order_id: str) -> list[dict[str, Any]]:
        found = _entity(
            self._call(
                "fetch the order's payments",
                lambda: self._client.order.payments(order_id, **self._kw),
                not_found=("razorpay order", order_id),
            ),
            "a collection",
        )
        items = found.get("items")
        return [
            item for item in (items if isinstance(items, list) else []) if isinstance(item, dict)
        ]

    def _captured_payment(self, reference: str) -> dict[str, Any]:
        if reference.startswith("pay_"):
            payment = _entity(
                self._call(
                    "fetch the payment",
                    lambda: self._client.payment.fetch(reference, **self._kw),
                    not_found=("razorpay payment", reference),
                ),
                "a payment",
            )
            candidates = [payment]
        else:
            self._call(
                "fetch the order",
                lambda: self._client.order.fetch(reference, **self._kw),
                not_found=("razorpay order", reference),
            )
            candidates = self._payments(reference)
        for payment in candidates:
            if payment.get("status") in {"captured", "refunded"} or payment.get("captured") is True:
                return payment
        msg = f"{reference} has no captured payment to refund"
        raise ValidationError.single("reference", msg, "not_captured")

    @staticmethod
    def _state(
        order: Mapping[str, Any], amount: Money, payments: list[dict[str, Any]]
    ) -> ProviderPayment:
        currency = amount.currency
        reference = str(order.get("id"))
        captured = [
            p for p in payments if p.get("status") in {"captured", "refunded"} or p.get("captured")
        ]
        if captured:
            captured_units = sum(_money(p, "payment.amount").minor_units for p in captured)
            refunded_units = sum(
                p["amount_refunded"] for p in captured if isinstance(p.get("amount_refunded"), int)
            )
            if refunded_units >= captured_units:
                status = PaymentStatus.REFUNDED
            elif refunded_units > 0:
                status = PaymentStatus.PARTIALLY_REFUNDED
            else:
                status = PaymentStatus.CAPTURED
            return ProviderPayment(
                reference=reference,
                status=status,
                amount=amount,
                captured=Money.from_minor_units(captured_units, currency),
            )
        if order.get("status") == "paid":
            paid = order.get("amount_paid")
            units = paid if isinstance(paid, int) else amount.minor_units
            return ProviderPayment(
                reference=reference,
                status=PaymentStatus.CAPTURED,
                amount=amount,
                captured=Money.from_minor_units(units, currency),
            )
        nothing = Money.zero(currency)
        if any(p.get("status") == "authorized" for p in payments):
            return ProviderPayment(
                reference=reference,
                status=PaymentStatus.AUTHORIZED,
                amount=amount,
                captured=nothing,
            )
        if payments and all(p.get("status") == "failed" for p in payments):
            last = max(payments, key=lambda p: p.get("created_at") or 0)
            reason = last.get("error_description") or last.get("error_code")
            return ProviderPayment(
                reference=reference,
                status=PaymentStatus.FAILED,
                amount=amount,
                captured=nothing,
                failure_reason=str(reason) if reason else None,
            )
        return ProviderPayment(
            reference=reference, status=PaymentStatus.PENDING, amount=amount, captured=nothing
        )

    def _call(
        self,
        action: str,
        call: Callable[[], Any],
        *,
        not_found: tuple[str, str] | None = None,
        idempotency_key: str | None = None,
        amount_refusal: bool = False,
    ) -> Any:
        """Run one SDK call; every vendor exception leaves as the library's own.

        With ``idempotency_key`` (a refund), a reused key with another body is
        an :class:`IdempotencyConflictError`; with ``amount_refusal`` (an
        order, a refund), Razorpay's 400 naming the ``amount`` field is a
        :class:`ValidationError` on ``amount``, with the code every adapter
        gives that refusal.
        """
        self._last.clear()
        try:
            return call()
        except _VENDOR_ERRORS as exc:
            raise self._mapped(
                action, exc, not_found, idempotency_key, amount_refusal=amount_refusal
            ) from exc
        except requests.exceptions.Timeout as exc:
            msg = f"could not {action}: Razorpay did not answer in {self._timeout:g} s"
            raise PaymentProviderError(
                msg, provider=PROVIDER, reason="timeout", retryable=True
            ) from exc
        except requests.exceptions.JSONDecodeError as exc:
            status = self._last.status()
            shown = f"HTTP {status}" if status is not None else "no HTTP status"
            msg = f"could not {action}: Razorpay's answer was not JSON [{shown}]"
            retryable = status is None or status in {409, 429} or status >= 500
            raise PaymentProviderError(
                msg, provider=PROVIDER, reason="unexpected_response", retryable=retryable
            ) from exc
        except requests.exceptions.RequestException as exc:
            msg = f"could not {action}: {type(exc).__name__}"
            raise PaymentProviderError(
                msg, provider=PROVIDER, reason="connection_error", retryable=True
            ) from exc

    def _mapped(
        self,
        action: str,
        exc: Exception,
        not_found: tuple[str, str] | None,
        idempotency_key: str | None,
        *,
        amount_refusal: bool = False,
    ) -> BookingError:
        status = self._last.status()
        error = self._last.error()
        description = str(error.get("description") or str(exc) or type(exc).__name__)
        code = str(error.get("code") or type(exc).__name__)
        unknown_id = description.strip().lower().rstrip(".") == _NOT_FOUND
        if not_found is not None and (status == 404 or (status == 400 and unknown_id)):
            entity, key = not_found
            return NotFoundError(entity, key, f"Razorpay knows no {entity.split()[-1]} {key}")
        field = error.get("field")
        if status == 400:
            if idempotency_key is not None and "same idempotency key" in description.lower():
                return IdempotencyConflictError(idempotency_key)
            if amount_refusal and field == "amount":
                msg = f"Razorpay refused it: {description}"
                return ValidationError.single("amount", msg, _amount_code(description))
        where = f" (field {field})" if isinstance(field, str) and field else ""
        shown = f"HTTP {status}" if status is not None else "no HTTP status"
        if status is None:
            retryable = not isinstance(exc, razorpay.errors.BadRequestError)
        else:
            retryable = status in {409, 429} or status >= 500
        msg = f"could not {action}: {description}{where} [{shown}]"
        return PaymentProviderError(msg, provider=PROVIDER, reason=code, retryable=retryable)
