"""A payment provider that lives in memory, for your tests and ours.

:class:`FakePaymentProvider` implements :class:`~bookingcore.ports.PaymentProvider`
with intents and refunds kept in memory, idempotent by key, and webhooks signed
with an HMAC of the raw body (``X-Fake-Signature``) so tests drive a payment
through :meth:`~bookingcore.services.PaymentService.handle_webhook` as a real
provider would::

    provider = FakePaymentProvider()
    core = BookingCore(uow_factory=..., payment_providers=[provider])
    intent = core.payments.create_intent(booking.id, "fake", principal=me,
                                         idempotency_key="k1")
    headers, body = provider.webhook("captured", intent.payment.provider_reference)
    core.payments.handle_webhook("fake", headers, body)

Every :meth:`~FakePaymentProvider.webhook` it makes moves its own copy of the
payment to the status it reports, as a real provider's events follow its
state; :meth:`~FakePaymentProvider.fetch` answers that state, which
:meth:`~FakePaymentProvider.set_state` also sets directly. Make a story's
events in order, deliver them in any order: the provider answers the last
one's state, as a real provider would by the time its late events arrive.

.. versionadded:: 0.2
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
from collections.abc import Mapping

import attrs

from bookingcore.domain.payments import PaymentStatus, RefundStatus
from bookingcore.domain.values import Money
from bookingcore.errors import (
    AuthenticationError,
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

__all__ = ["FakePaymentProvider"]

_SIGNATURE = "x-fake-signature"


def _checked(amount: Money, idempotency_key: str) -> None:
    """Refuse what every shipped provider refuses before it asks anyone."""
    if not idempotency_key.strip():
        raise ValidationError.single("idempotency_key", "is required", "required")
    if amount.amount <= 0:
        raise ValidationError.single("amount", "must be above zero", "not_positive")


def _checked_reference(reference: object) -> str:
    """Refuse a blank provider reference, as every shipped provider does."""
    if not isinstance(reference, str) or not reference.strip():
        raise ValidationError.single("reference", "is required", "required")
    return reference


#: What this fake's copy of a payment is at when it took money (a refund may be asked).
_TAKEN = frozenset(
    {PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
)


def _unreadable(message: str) -> ValidationError:
    return ValidationError.single("raw_body", f"fake webhook: {message}", "invalid_webhook")


def _money(value: object) -> Money:
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("units"), int)
        or not isinstance(value.get("currency"), str)
    ):
        msg = "an amount is not {'units': <int>, 'currency': <code>}"
        raise _unreadable(msg)
    try:
        return Money.from_minor_units(value["units"], value["currency"])
    except ValidationError as exc:
        raise _unreadable(exc.message) from None


_EVENT = "x-fake-event-id"


@attrs.define
class _Intent:
    reference: str
    amount: Money
    status: PaymentStatus = PaymentStatus.PENDING
    captured: Money | None = None
    failure_reason: str | None = None


class FakePaymentProvider:
    """An in-memory :class:`~bookingcore.ports.PaymentProvider` with signed webhooks.

    ``decline_refunds(reason)`` makes the next refunds fail as a provider's
    refusal would; ``refunds_settle_later`` leaves refunds pending until a
    ``refund_webhook``; ``fail_fetches()`` makes the next :meth:`fetch` calls
    fail as an unreachable provider would. ``fetch_state=False`` declares no
    ``fetch_state`` capability, for the behaviour of providers that cannot
    be asked. ``calls`` lists the calls made to it. Thread-safe.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        name: str = "fake",
        *,
        secret: str = "fake-webhook-secret",  # noqa: S107 - a test fake's own key
        fetch_state: bool = True,
    ) -> None:
        self._name = name
        self._fetch_state = fetch_state
        self._fetch_failures: list[PaymentProviderError] = []
        self._secret = secret.encode()
        self._lock = threading.Lock()
        self._intents: dict[str, _Intent] = {}
        self._by_key: dict[str, str] = {}
        self._refunds: dict[str, ProviderRefund] = {}
        self._numbers = itertools.count(1)
        self._declines: list[str] = []
        self.refunds_settle_later = False
        self.calls: list[str] = []

    @property
    def name(self) -> str:
        """The provider's identifier (``fake`` unless given)."""
        return self._name

    @property
    def capabilities(self) -> ProviderCapabilities:
        """Everything a card provider can do (``fetch_state`` as constructed)."""
        return ProviderCapabilities(
            refunds=True,
            partial_refunds=True,
            needs_redirect=True,
            capture_later=True,
            webhooks=True,
            fetch_state=self._fetch_state,
        )

    def create_intent(self, request: IntentRequest) -> ProviderIntent:
        """An intent ``pi_fake_n``; the same key gives the same intent.

        Raises:
            ValidationError: on ``idempotency_key`` when it is empty (code
                ``required``), on ``amount`` when it is not above zero
                (``not_positive``), as every shipped provider refuses them.

        .. versionchanged:: 0.4
           Refuses an empty key and an amount not above zero.
        """
        _checked(request.amount, request.idempotency_key)
        with self._lock:
            self.calls.append("create_intent")
            reference = self._by_key.get(request.idempotency_key)
            if reference is None:
                reference = f"pi_{self._name}_{next(self._numbers)}"
                self._by_key[request.idempotency_key] = reference
                self._intents[reference] = _Intent(reference, request.amount)
            intent = self._intents[reference]
        return ProviderIntent(
            reference=reference,
            status=intent.status,
            amount=intent.amount,
            client_secret=f"{reference}_secret",
        )

    def fetch(self, reference: str) -> ProviderPayment:
        """The intent as this fake sees it now (the last webhook made, or :meth:`set_state`).

        Raises:
            ValidationError: on ``reference`` when it is blank (``required``).
            NotFoundError: no intent ``reference`` was made here.
            PaymentProviderError: as :meth:`fail_fetches` asked.

        .. versionchanged:: 0.4
           A blank reference is a ``ValidationError``, as every shipped provider says.
        """
        reference = _checked_reference(reference)
        with self._lock:
            self.calls.append("fetch")
            if self._fetch_failures:
                raise self._fetch_failures.pop(0)
            intent = self._intents.get(reference)
        if intent is None:
            raise NotFoundError("payment", reference)
        captured = intent.captured or Money.zero(intent.amount.currency)
        return ProviderPayment(
            reference=reference,
            status=intent.status,
            amount=intent.amount,
            captured=captured,
            failure_reason=intent.failure_reason,
        )

    def set_state(
        self,
        reference: str,
        status: PaymentStatus | str,
        *,
        captured: Money | None = None,
        failure_reason: str | None = None,
    ) -> None:
        """Make :meth:`fetch` answer ``status`` for intent ``reference`` from now on.

        ``captured`` is what was taken (the whole amount, for ``captured`` and
        the refund statuses, when not given).

        Raises:
            NotFoundError: no intent ``reference`` was made here.
        """
        with self._lock:
            intent = self._intents.get(reference)
            if intent is None:
                raise NotFoundError("payment", reference)
            self._move(intent, PaymentStatus(status), captured, failure_reason)

    @staticmethod
    def _move(
        intent: _Intent, status: PaymentStatus, captured: Money | None, failure_reason: str | None
    ) -> None:
        taken = status in (
            PaymentStatus.CAPTURED,
            PaymentStatus.PARTIALLY_REFUNDED,
            PaymentStatus.REFUNDED,
        )
        intent.status = status
        intent.captured = (captured or intent.amount) if taken else None
        intent.failure_reason = failure_reason if status is PaymentStatus.FAILED else None

    def fail_fetches(
        self, reason: str = "the provider could not be reached", times: int = 1
    ) -> None:
        """Make the next ``times`` :meth:`fetch` calls fail as an unreachable provider would."""
        with self._lock:
            self._fetch_failures.extend(
                PaymentProviderError(reason, provider=self._name, reason="timeout", retryable=True)
                for _ in range(times)
            )

    def refund(
        self, reference: str, amount: Money, *, idempotency_key: str, reason: str | None = None
    ) -> ProviderRefund:
        """A refund ``re_fake_n``, succeeded at once (or pending, or declined, as told).

        ``reference`` may be an intent made here (its copy must have taken the
        money: captured by a :meth:`webhook` or :meth:`set_state`) or any other
        (a manual payment's receipt number, when the fake stands for ``manual``).

        Raises:
            ValidationError: as :meth:`create_intent` says; on ``reference``
                when it is blank (``required``) or names an intent made here
                that took no money (``not_captured``), as every shipped
                provider refuses them.
            PaymentProviderError: as :meth:`decline_refunds` asked.

        .. versionchanged:: 0.4
           Refuses an empty key and an amount not above zero.
        .. versionchanged:: 0.4
           Refuses a blank reference and an intent that took no money.
        """
        _checked(amount, idempotency_key)
        reference = _checked_reference(reference)
        with self._lock:
            self.calls.append("refund")
            prior = self._refunds.get(idempotency_key)
            if prior is not None:
                return prior
            intent = self._intents.get(reference)
            if intent is not None and intent.status not in _TAKEN:
                msg = f"{reference} is {intent.status.value}: it took no money to refund"
                raise ValidationError.single("reference", msg, "not_captured")
            if self._declines:
                declined = self._declines.pop(0)
                raise PaymentProviderError(declined, provider=self._name, reason="refund_declined")
            status = RefundStatus.PENDING if self.refunds_settle_later else RefundStatus.SUCCEEDED
            made = ProviderRefund(
                reference=f"re_{self._name}_{next(self._numbers)}", status=status, amount=amount
            )
            self._refunds[idempotency_key] = made
            return made

    def decline_refunds(self, reason: str = "refund declined", times: int = 1) -> None:
        """Make the next ``times`` refunds fail as a provider's refusal."""
        with self._lock:
            self._declines.extend([reason] * times)

    # ------------------------------------------------------------------ webhooks

    def webhook(
        self,
        status: PaymentStatus | str | None,
        reference: str,
        *,
        amount: Money | None = None,
        event_id: str | None = None,
        kind: str | None = None,
        failure_reason: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A signed delivery saying payment ``reference`` is now ``status``: (headers, body).

        Any status may be reported, and the intent, if made here, moves there
        (``amount`` is what was taken, for ``captured``). ``kind`` is the
        event's type (``payment.<status>`` by default); with ``status`` None
        the event reports no status, as the events a provider sends that the
        library does not act on (give their ``kind``).
        """
        target = None if status is None else PaymentStatus(status)
        with self._lock:
            intent = self._intents.get(reference)
            if intent is not None and target is not None:
                self._move(intent, target, amount, failure_reason)
            event = event_id or f"evt_{self._name}_{next(self._numbers)}"
        body: dict[str, object] = {
            "id": event,
            "type": kind or f"payment.{target.value if target else 'updated'}",
            "payment": reference,
        }
        if target is not None:
            body["status"] = target.value
        if amount is not None:
            body["amount"] = {"units": amount.minor_units, "currency": amount.currency}
        if failure_reason is not None:
            body["failure_reason"] = failure_reason
        return self._signed(event, body)

    def refund_webhook(
        self,
        refund_reference: str,
        reference: str,
        status: RefundStatus | str,
        *,
        amount: Money | None = None,
        key: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A signed delivery saying refund ``refund_reference`` of ``reference`` is ``status``.

        ``amount`` is the refund's amount; ``key`` the idempotency key it was
        asked for with, echoed back as real providers do (none for a refund
        made in the provider's dashboard).

        .. versionchanged:: 0.4 ``amount`` and ``key``.
        """
        with self._lock:
            event = f"evt_{self._name}_{next(self._numbers)}"
        body: dict[str, object] = {
            "id": event,
            "type": f"refund.{RefundStatus(status).value}",
            "payment": reference,
            "refund": refund_reference,
            "refund_status": RefundStatus(status).value,
        }
        if amount is not None:
            body["refund_amount"] = {"units": amount.minor_units, "currency": amount.currency}
        if key is not None:
            body["refund_key"] = key
        return self._signed(event, body)

    def _signed(self, event: str, body: Mapping[str, object]) -> tuple[dict[str, str], bytes]:
        raw = json.dumps(body, sort_keys=True).encode()
        signature = hmac.new(self._secret, raw, hashlib.sha256).hexdigest()
        return {"X-Fake-Signature": signature, "X-Fake-Event-Id": event}, raw

    def parse_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> WebhookEvent:
        """Verify ``X-Fake-Signature`` over the raw body, then read it.

        Raises:
            AuthenticationError: the body is not bytes, or the signature is
                missing or does not match.
            ValidationError: on ``raw_body`` (code ``invalid_webhook``) when a
                verified body is not one of this fake's events, as every
                shipped provider answers.

        .. versionchanged:: 0.4
           A verified body that is not an event is a ``ValidationError`` on
           ``raw_body``, no longer a ``ValueError`` or ``KeyError``.
        """
        if not isinstance(raw_body, bytes | bytearray):
            raise AuthenticationError("the body must be the raw bytes received", field="body")
        lowered = {key.lower(): value for key, value in headers.items()}
        given = lowered.get(_SIGNATURE)
        expected = hmac.new(self._secret, bytes(raw_body), hashlib.sha256).hexdigest()
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            msg = f"the {self._name} webhook signature does not match"
            raise AuthenticationError(msg, field="signature")
        try:
            body = json.loads(raw_body)
        except ValueError:
            raise _unreadable("the body is not JSON") from None
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("id"), str)
            or not isinstance(body.get("type"), str)
        ):
            raise _unreadable("the body is not an object with 'id' and 'type'")
        try:
            return self._event(lowered.get(_EVENT) or body["id"], body)
        except ValueError as exc:  # a status the port does not know
            if isinstance(exc, ValidationError):
                raise
            raise _unreadable(str(exc)) from None

    def _event(self, event_id: str, body: dict[str, object]) -> WebhookEvent:
        amount = _money(body["amount"]) if "amount" in body else None
        refund = body.get("refund")
        refund_amount = _money(body["refund_amount"]) if "refund_amount" in body else None
        payment = body.get("payment")
        key = body.get("refund_key")
        return WebhookEvent(
            provider=self._name,
            event_id=event_id,
            kind=str(body["type"]),
            payload=body,
            payment_reference=payment if isinstance(payment, str) else None,
            status=None if refund or "status" not in body else PaymentStatus(str(body["status"])),
            amount=amount,
            refund_reference=refund if isinstance(refund, str) else None,
            refund_status=RefundStatus(str(body.get("refund_status"))) if refund else None,
            refund_amount=refund_amount,
            refund_key=key if isinstance(key, str) else None,
        )
