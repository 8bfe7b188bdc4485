"""The payment provider port: what the core asks of Stripe, Razorpay, a cash desk, ...

A provider has an identifier (``name``, stored on every
:class:`~bookingcore.domain.Payment`) and answers capability questions up front
(:class:`ProviderCapabilities`) so a host can tell a customer "this method
cannot be refunded online" before trying, instead of failing late. Four calls:

* :meth:`PaymentProvider.create_intent`: ask the provider to expect ``amount``
  for a booking (a Stripe PaymentIntent, a Razorpay order), once per
  idempotency key;
* :meth:`PaymentProvider.fetch`: the payment's state as the provider sees it
  now, for when a webhook alone is not enough to decide (asked only of
  providers that declare :attr:`ProviderCapabilities.fetch_state`);
* :meth:`PaymentProvider.refund`: give back part or all of a captured payment,
  once per idempotency key;
* :meth:`PaymentProvider.parse_webhook`: verify a delivery's signature over its
  *raw* body and headers, then read it into a :class:`WebhookEvent`.

Amounts cross the port as :class:`~bookingcore.Money`; adapters convert to the
provider's minor units with :attr:`~bookingcore.Money.minor_units` and back with
:meth:`~bookingcore.Money.from_minor_units` (JPY has no minor unit, KWD three).
Every vendor error becomes a :class:`~bookingcore.errors.PaymentProviderError`
(or an :class:`~bookingcore.errors.AuthenticationError` for a webhook whose
signature does not verify) at the adapter's boundary. A mistake the provider
refuses is a :class:`~bookingcore.errors.ValidationError` on the parameter at
fault, with the same field and code from every adapter, so a host handles it
once: on ``amount`` (``not_positive``, ``amount_too_small`` below the
provider's minimum, ``amount_too_large`` above its maximum or more than is
left to refund, ``refused_by_provider``), on ``idempotency_key``
(``required``), on ``raw_body`` (``invalid_webhook``).

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import attrs

from bookingcore.domain.payments import PaymentStatus, RefundStatus
from bookingcore.domain.values import BookingId, Money, PaymentId

__all__ = [
    "IntentRequest",
    "PaymentProvider",
    "ProviderCapabilities",
    "ProviderIntent",
    "ProviderPayment",
    "ProviderRefund",
    "WebhookEvent",
]


@attrs.frozen
class ProviderCapabilities:
    """What a provider can do, asked before a payment starts.

    Args:
        refunds: money can be given back through the provider.
        partial_refunds: a refund may be for less than what was captured.
        needs_redirect: the customer finishes paying on the provider's page or
            SDK (with :attr:`ProviderIntent.client_secret` or ``redirect_url``).
        capture_later: a payment can be authorized now and captured later.
        webhooks: the provider reports changes by signed webhook.
        fetch_state: :meth:`PaymentProvider.fetch` answers a payment's current
            state from the provider. The payment service asks it when a
            webhook event alone does not decide where the payment goes
            (:meth:`~bookingcore.domain.Payment.decides`); without it such an
            event is applied in the order it arrives. False unless declared.

    .. versionadded:: 0.2
    """

    refunds: bool
    partial_refunds: bool
    needs_redirect: bool
    capture_later: bool
    webhooks: bool
    fetch_state: bool = False


@attrs.frozen(kw_only=True)
class IntentRequest:
    """What the core asks a provider to collect.

    ``idempotency_key`` makes a retried request return the first intent;
    ``metadata`` travels with the intent and comes back on its webhooks
    (``booking_id`` and ``payment_id`` are always added).

    .. versionadded:: 0.2
    """

    payment_id: PaymentId
    booking_id: BookingId
    amount: Money
    idempotency_key: str
    description: str | None = None
    receipt_email: str | None = None
    metadata: Mapping[str, str] = attrs.Factory(dict)


@attrs.frozen(kw_only=True)
class ProviderIntent:
    """The provider's answer to :meth:`PaymentProvider.create_intent`.

    ``reference`` is the provider's id (``pi_...``, ``order_...``), stored as the
    payment's ``provider_reference``; ``client_secret`` is what the customer's
    app needs to finish paying (Stripe's client secret, Razorpay's order id);
    ``redirect_url`` a page to send them to, where the provider has one.

    .. versionadded:: 0.2
    """

    reference: str
    status: PaymentStatus
    amount: Money
    client_secret: str | None = None
    redirect_url: str | None = None


@attrs.frozen(kw_only=True)
class ProviderPayment:
    """A payment as the provider sees it now (:meth:`PaymentProvider.fetch`).

    .. versionadded:: 0.2
    """

    reference: str
    status: PaymentStatus
    amount: Money
    captured: Money
    failure_reason: str | None = None


@attrs.frozen(kw_only=True)
class ProviderRefund:
    """The provider's answer to :meth:`PaymentProvider.refund`.

    .. versionadded:: 0.2
    """

    reference: str
    status: RefundStatus
    amount: Money
    failure_reason: str | None = None


@attrs.frozen(kw_only=True)
class WebhookEvent:
    """A verified webhook delivery, read into what the core acts on.

    ``event_id`` is unique per provider and is what makes a redelivery a
    duplicate. ``payment_reference`` names the intent or order it is about;
    ``status`` is what the event says of that payment (``None`` for an event the
    core does not act on, which is still recorded); ``refund_reference`` and
    ``refund_status`` are set for refund events. ``payload`` is the parsed body.

    For refund events, ``refund_amount`` is the amount of the refund named
    (for a refund made at the provider, it is what the library records), and
    ``refund_key`` the idempotency key the library sent with
    :meth:`PaymentProvider.refund`, as the provider echoes it back (Stripe's
    refund ``metadata``, Razorpay's ``notes``): it finds the library's own
    refund when its webhook arrives before the provider's answer was stored.

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       ``refund_amount`` and ``refund_key``.
    """

    provider: str
    event_id: str
    kind: str
    payload: Mapping[str, Any]
    payment_reference: str | None = None
    status: PaymentStatus | None = None
    amount: Money | None = None
    refund_reference: str | None = None
    refund_status: RefundStatus | None = None
    occurred_at: datetime | None = None
    refund_amount: Money | None = None
    refund_key: str | None = None


class PaymentProvider(Protocol):
    """A way to take and give back money. Adapters: :mod:`bookingcore_adapters.payments`.

    .. versionadded:: 0.2
    """

    @property
    def name(self) -> str:
        """The provider's identifier, lower case (``stripe``, ``razorpay``, ``manual``)."""

    @property
    def capabilities(self) -> ProviderCapabilities:
        """What this provider can do."""

    def create_intent(self, request: IntentRequest) -> ProviderIntent:
        """Ask the provider to expect ``request.amount``; the same key returns the same intent.

        Raises:
            ValidationError: on ``amount`` (code ``not_positive``, or
                ``amount_too_small`` / ``amount_too_large`` /
                ``refused_by_provider`` when the provider refuses it), or on
                ``idempotency_key`` when empty (``required``).
            PaymentProviderError: the provider refused or could not be reached.

        .. versionchanged:: 0.4
           A refused amount is a ``ValidationError`` on ``amount`` from every adapter.
        """

    def fetch(self, reference: str) -> ProviderPayment:
        """The payment ``reference`` as the provider sees it now.

        The payment service calls it for an undecided webhook event, while it
        holds the payment's lock, only when ``capabilities.fetch_state`` is True.

        Raises:
            NotFoundError: the provider knows no such payment.
            PaymentProviderError: the provider could not be reached.
        """

    def refund(
        self, reference: str, amount: Money, *, idempotency_key: str, reason: str | None = None
    ) -> ProviderRefund:
        """Give back ``amount`` of the captured payment ``reference``, once per key.

        Send ``idempotency_key`` with the refund where the provider keeps data
        on it (metadata, notes), and read it back into
        :attr:`WebhookEvent.refund_key`.

        Raises:
            ValidationError: on ``amount``, when the provider cannot refund it
                (no refunds, or a partial refund where only full ones work),
                when it is not above zero (``not_positive``) or more than is
                left (``amount_too_large``); on ``idempotency_key`` when empty
                (``required``).
            PaymentProviderError: the provider refused or could not be reached.
        """

    def parse_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> WebhookEvent:
        """Verify a delivery against its raw body and headers, then read it.

        ``headers`` are matched case-insensitively. Verify before parsing: a
        body that was re-serialised (keys reordered, spaces changed) must fail.

        Raises:
            AuthenticationError: a missing, malformed, stale or wrong signature.
            ValidationError: on ``raw_body`` (code ``invalid_webhook``), a
                verified body the adapter cannot read.

        .. versionchanged:: 0.4
           The field is ``raw_body`` from every adapter.
        """
