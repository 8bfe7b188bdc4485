"""The port for webhooks to partners: one signed HTTP POST, and what came back.

.. versionadded:: 0.2
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

import attrs

from bookingcore.domain.partner_webhooks import SignatureScheme
from bookingcore.domain.values import PartnerId

__all__ = ["OutgoingWebhook", "WebhookResponse", "WebhookSender"]


@attrs.frozen
class OutgoingWebhook:
    """One webhook for a :class:`WebhookSender` to sign and POST.

    ``body`` is sent byte for byte (the signature covers these bytes);
    ``webhook_id`` is the same on every attempt of one delivery, and
    ``timestamp`` is the time of this attempt (``webhook-timestamp``).
    ``secret`` is the partner's ``whsec_...`` signing secret; it is left out
    of ``repr()``. ``previous_secret`` is the secret it replaced while a
    rotation keeps it (a grace period): the webhook is then signed with both,
    the current secret's signature first. Also left out of ``repr()``.

    ``allow_private_addresses`` is False unless the host allows webhooks to
    non-public addresses (:attr:`~bookingcore.services.WebhookSettings.allow_private_addresses`):
    a sender then refuses, without a request and for good (``retryable=False``),
    a URL whose host is or resolves to a loopback, private, link-local or other
    non-public address (see
    :func:`~bookingcore.domain.partner_webhooks.is_public_address`).

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       ``previous_secret``, ``allow_private_addresses``.
    """

    webhook_id: str
    url: str
    body: bytes
    timestamp: datetime
    secret: str = attrs.field(repr=False)
    scheme: SignatureScheme = SignatureScheme.STANDARD
    partner_id: PartnerId | None = None
    topic: str | None = None
    attempt: int = 1
    previous_secret: str | None = attrs.field(default=None, repr=False)
    allow_private_addresses: bool = False


@attrs.frozen
class WebhookResponse:
    """What one attempt came to.

    ``status_code`` is the HTTP status (``None`` when no answer came);
    ``error`` says why an attempt failed (``None`` on 2xx); ``retryable`` is
    False when trying again cannot help (a URL the sender cannot call, a
    secret it cannot sign with). ``latency_ms`` is measured by the sender.
    ``retry_after`` is how long the receiver asked to be left alone (its
    ``Retry-After`` header, on a 429 or a 503 say): the next attempt waits at
    least that long, up to the retry policy's ``max_delay``. A 410 is final
    whatever ``retryable`` says, and disables the partner's webhook endpoint
    (:attr:`~bookingcore.domain.Partner.webhook_disabled_at`).

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       ``retry_after``.
    """

    status_code: int | None
    latency_ms: int
    error: str | None = None
    retryable: bool = True
    response_excerpt: str | None = None
    retry_after: timedelta | None = None

    @property
    def succeeded(self) -> bool:
        """True for a 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender(Protocol):
    """Signs and POSTs webhooks to partners.

    .. versionadded:: 0.2
    """

    def send(self, webhook: OutgoingWebhook) -> WebhookResponse:
        """Sign ``webhook`` by its ``scheme`` and POST it to its ``url``.

        Never raises for the receiver's or the network's failures (an error
        status, a timeout, a refused connection): they come back in the
        response, so every attempt is logged the same way.
        """
