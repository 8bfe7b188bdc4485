"""The manual provider: cash at the desk or a bank transfer, recorded by staff."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping

from bookingcore.domain.payments import PaymentStatus, RefundStatus
from bookingcore.domain.values import Money
from bookingcore.errors import AuthenticationError, NotFoundError, ValidationError
from bookingcore.ports.payments import (
    IntentRequest,
    ProviderCapabilities,
    ProviderIntent,
    ProviderPayment,
    ProviderRefund,
    WebhookEvent,
)

__all__ = ["ManualProvider"]

_CAPABILITIES = ProviderCapabilities(
    refunds=True,
    partial_refunds=True,
    needs_redirect=False,
    capture_later=False,
    webhooks=False,
)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def _checked_key(key: object) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ValidationError.single("idempotency_key", "is required", "required")
    return key


def _checked_reference(reference: object) -> str:
    if not isinstance(reference, str) or not reference.strip():
        raise ValidationError.single("reference", "is required", "required")
    return reference


def _positive(amount: Money) -> Money:
    if amount.amount <= 0:
        raise ValidationError.single("amount", "must be above zero", "not_positive")
    return amount


class ManualProvider:
    """Money taken outside any gateway: cash, a card terminal, a bank transfer.

    Staff record such a payment themselves (the payment service's
    ``record_manual_payment``), so this provider talks to nobody: it exists
    so a manual payment has a provider like any other, with honest
    capabilities (refunds, partial ones too, are handed back at the desk; no
    redirect, no capture later, no webhooks).

    * :meth:`create_intent` answers a ``pending`` intent whose reference is
      derived from the idempotency key (``manual_`` and 24 hex digits of its
      SHA-256): the same key gives the same reference, in any process.
    * :meth:`fetch` knows only the intents this instance created, in this
      process, and forgets them on restart: there is no remote state to ask.
      For any other reference it raises
      :class:`~bookingcore.errors.NotFoundError`; the service keeps the truth
      about manual payments in its own records, so the ``fetch_state``
      capability is not declared.
    * :meth:`refund` answers a ``succeeded`` refund (the money was handed
      back), with a reference derived from its idempotency key; a refund of an
      intent it made (never captured) is refused, as every provider refuses it.
    * :meth:`parse_webhook` refuses every delivery: nothing sends any.

    .. versionadded:: 0.2
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._intents: dict[str, ProviderIntent] = {}

    @property
    def name(self) -> str:
        """``"manual"``."""
        return "manual"

    @property
    def capabilities(self) -> ProviderCapabilities:
        """Refunds and partial refunds; no redirect, capture later or webhooks."""
        return _CAPABILITIES

    def create_intent(self, request: IntentRequest) -> ProviderIntent:
        """A pending intent for ``request.amount``; the same key gives the same reference.

        Raises:
            ValidationError: on ``idempotency_key`` when it is empty (code
                ``required``), on ``amount`` when it is not above zero
                (``not_positive``).
        """
        key = _checked_key(request.idempotency_key)
        amount = _positive(request.amount)
        reference = f"manual_{_digest(key)}"
        with self._lock:
            known = self._intents.get(reference)
            if known is not None:
                return known
            intent = ProviderIntent(
                reference=reference, status=PaymentStatus.PENDING, amount=amount
            )
            self._intents[reference] = intent
            return intent

    def fetch(self, reference: str) -> ProviderPayment:
        """The intent ``reference`` as this instance created it: pending, nothing captured.

        Raises:
            ValidationError: on ``reference`` when it is blank (``required``).
            NotFoundError: this instance did not create ``reference`` (in this process).

        .. versionchanged:: 0.4
           A blank reference is a ``ValidationError`` (was ``NotFoundError``).
        """
        reference = _checked_reference(reference)
        with self._lock:
            intent = self._intents.get(reference)
        if intent is None:
            msg = (
                f"manual payment {reference} is not known to this process; "
                "manual payments are recorded by staff, not fetched"
            )
            raise NotFoundError("manual payment", reference, msg)
        return ProviderPayment(
            reference=intent.reference,
            status=intent.status,
            amount=intent.amount,
            captured=Money.zero(intent.amount.currency),
        )

    def refund(
        self, reference: str, amount: Money, *, idempotency_key: str, reason: str | None = None
    ) -> ProviderRefund:
        """A succeeded refund of ``amount``: staff handed the money back.

        The reference (``manual_rf_`` and 24 hex digits) depends on the key only.
        ``reference`` is what staff recorded the payment with (a receipt or
        transfer number); an intent this instance made took no money (staff
        record manual payments themselves), so it is refused.

        Raises:
            ValidationError: on ``idempotency_key`` when it is empty (code
                ``required``), on ``amount`` when it is not above zero
                (``not_positive``), on ``reference`` when it is blank
                (``required``) or names an intent this instance made
                (``not_captured``).

        .. versionchanged:: 0.4
           Refuses a blank reference and an intent's, as every provider adapter does.
        """
        key = _checked_key(idempotency_key)
        reference = _checked_reference(reference)
        with self._lock:
            made = reference in self._intents
        if made:
            msg = f"{reference} is an intent that took no money: nothing to refund"
            raise ValidationError.single("reference", msg, "not_captured")
        return ProviderRefund(
            reference=f"manual_rf_{_digest(key)}",
            status=RefundStatus.SUCCEEDED,
            amount=_positive(amount),
        )

    def parse_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> WebhookEvent:
        """Refuse the delivery: the manual provider receives no webhooks.

        Raises:
            AuthenticationError: always.
        """
        msg = "the manual provider receives no webhooks"
        raise AuthenticationError(msg)
