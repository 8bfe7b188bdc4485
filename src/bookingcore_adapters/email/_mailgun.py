"""A :class:`~bookingcore.ports.Notifier` over Mailgun's Messages API, and its webhooks.

``POST {base_url}/v3/{domain}/messages`` with form fields ``from``, ``to``,
``subject``, ``text``, the tracking options ``o:tracking``,
``o:tracking-opens``, ``o:tracking-clicks``, the custom variable
``v:communication_id`` and the header ``h:X-Bookingcore-Communication-Id``,
authenticated with HTTP basic auth (``api``:API key). Mailgun answers
``{"id": "<...@domain>", "message": "Queued. Thank you."}``.

Provider message ids are stored **without** the angle brackets
(``20261206110000.1.ABC@mg.example.com``): that is how Mailgun's webhooks
spell ``message.headers.message-id``, so a webhook finds its message as sent.

Webhooks (``delivered``, ``opened``, ``clicked``, ``failed``, ...) are JSON
bodies signed with the domain's HTTP webhook signing key:
:func:`read_mailgun_webhook` checks the signature and its age and returns a
:class:`MailgunEvent` to record.

.. versionadded:: 0.4
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import attrs
import httpx

from bookingcore.domain.communications import Channel, CommunicationStatus
from bookingcore.errors import AuthenticationError, DeliveryError, ValidationError
from bookingcore.ports.messaging import OutgoingMessage, SendReceipt
from bookingcore_adapters._http import OwnedClient, json_object, retryable_status
from bookingcore_adapters.email._smtp import check_address

__all__ = [
    "DEFAULT_TOLERANCE",
    "MailgunEvent",
    "MailgunNotifier",
    "read_mailgun_webhook",
    "verify_mailgun_signature",
]

_CHANNEL = "email"
_MAX_REASON = 300
#: The header each message carries with its communication id.
REFERENCE_HEADER = "X-Bookingcore-Communication-Id"

#: How old (or how far in the future) a webhook's signed timestamp may be.
DEFAULT_TOLERANCE = timedelta(minutes=5)

#: Mailgun events and the communication status they stand for; ``failed`` depends
#: on its severity (only ``permanent`` fails the message).
_EVENTS: Mapping[str, CommunicationStatus] = {
    "delivered": CommunicationStatus.DELIVERED,
    "opened": CommunicationStatus.OPENED,
    "clicked": CommunicationStatus.CLICKED,
    "failed": CommunicationStatus.FAILED,
}


def _message_id(raw: str) -> str:
    """A Mailgun message id as stored: stripped of white space and angle brackets."""
    return raw.strip().removeprefix("<").removesuffix(">").strip()


class MailgunNotifier(OwnedClient):
    """Sends email messages through Mailgun's Messages API (or any service with its shape).

    Each message carries its communication id as the custom variable
    ``v:communication_id`` (it comes back in every webhook's ``user-variables``)
    and as the header ``X-Bookingcore-Communication-Id``. Mailgun defines no
    idempotency key, so a ``send`` retried after a timeout may send the message
    twice; the id in both places lets a reader tell the copies apart.

    Failures raise :class:`~bookingcore.errors.DeliveryError` with the reason
    ``"mailgun http <status>: <message>"``. Mailgun refusing the message (a bad
    address, an unknown domain, a wrong API key: HTTP 4xx) is not retryable;
    rate limiting (429), server errors (5xx), timeouts and network failures
    are, as for :class:`~bookingcore_adapters.sms.TwilioSmsSender`. The API key
    never appears in a reason or a log.

    Close the notifier (or use it as a context manager) to close the HTTP
    client it created; a ``client`` passed in stays open for its owner.

    Args:
        domain: the sending domain (``mg.example.com``).
        api_key: the account's (or domain's sending) API key; the basic-auth password.
        sender: the ``from`` address (``Trails <bookings@mg.example.com>``).
        base_url: where the API lives: ``https://api.mailgun.net`` (US) or
            ``https://api.eu.mailgun.net`` (EU).
        tracking: ``o:tracking`` (``None``: leave the domain's setting).
        track_opens: ``o:tracking-opens`` (``None``: leave the domain's setting).
        track_clicks: ``o:tracking-clicks`` (``None``: leave the domain's setting).
        timeout: seconds to wait for the API, per request.
        client: an ``httpx.Client`` to reuse (connection pooling, proxies, test transports).
        logger: the logger to use instead of ``bookingcore.email``.

    Raises:
        ValidationError: on ``domain``, ``api_key`` or ``sender`` when empty, on
            ``sender`` when not one email address (with or without a display name),
            on ``base_url`` when it is not an http(s) URL, on ``timeout`` when not
            positive.

    .. versionadded:: 0.4
    """

    def __init__(
        self,
        domain: str,
        api_key: str,
        *,
        sender: str,
        base_url: str = "https://api.mailgun.net",
        tracking: bool | None = True,
        track_opens: bool | None = True,
        track_clicks: bool | None = True,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not domain.strip():
            raise ValidationError.single("domain", "is required", "required")
        if not api_key:
            raise ValidationError.single("api_key", "is required", "required")
        if not sender.strip():
            raise ValidationError.single("sender", "is required", "required")
        check_address(sender, "sender")  # Mailgun would refuse every message (400)
        if urlsplit(base_url).scheme not in {"http", "https"}:
            raise ValidationError.single("base_url", "must be an http(s) URL", "invalid_url")
        if not timeout > 0:
            raise ValidationError.single("timeout", "must be a positive number of seconds")
        self._domain = domain.strip()
        self._auth = httpx.BasicAuth("api", api_key)
        self._sender = sender.strip()
        self._url = f"{base_url.rstrip('/')}/v3/{quote(self._domain, safe='')}/messages"
        self._options = {
            name: "yes" if value else "no"
            for name, value in (
                ("o:tracking", tracking),
                ("o:tracking-opens", track_opens),
                ("o:tracking-clicks", track_clicks),
            )
            if value is not None
        }
        self._timeout = timeout
        super().__init__(client)
        self._log = logger or logging.getLogger("bookingcore.email")

    def __repr__(self) -> str:
        return f"MailgunNotifier(domain={self._domain!r}, url={self._url!r})"

    def send(self, message: OutgoingMessage) -> SendReceipt:
        """Ask Mailgun to send ``message`` by email.

        Returns:
            Mailgun's message id without angle brackets; status ``sent`` (queued).

        Raises:
            DeliveryError: not an email message, or Mailgun refused it or could
                not be reached; ``retryable`` tells whether trying again may help.
        """
        if message.channel is not Channel.EMAIL:
            msg = f"MailgunNotifier sends email, not {message.channel.value}"
            raise DeliveryError(msg, channel=message.channel.value, retryable=False)
        reference = str(message.communication_id)
        form = {
            "from": self._sender,
            "to": message.recipient,
            "subject": message.subject or "",
            "text": message.body,
            **self._options,
            "v:communication_id": reference,
            f"h:{REFERENCE_HEADER}": reference,
        }
        label = f"{message.recipient} (communication {reference})"
        try:
            response = self._client.post(
                self._url,
                data=form,
                auth=self._auth,
                timeout=self._timeout,
                headers={"Accept": "application/json"},
            )
        except httpx.TransportError as exc:
            retryable = not isinstance(exc, httpx.UnsupportedProtocol)
            reason = f"mailgun unreachable: {type(exc).__name__}: {exc}"[:_MAX_REASON]
            self._log.warning("email to %s failed: %s", label, reason)
            raise DeliveryError(reason, channel=_CHANNEL, retryable=retryable) from None
        if response.is_success:
            return self._receipt(response, label)
        error = self._error(response)
        self._log.warning("email to %s failed: %s", label, error.reason)
        raise error

    def _receipt(self, response: httpx.Response, label: str) -> SendReceipt:
        raw = json_object(response).get("id")
        message_id = _message_id(raw) if isinstance(raw, str) else ""
        if not message_id:
            # Mailgun may have queued it: do not invite a retry that sends it twice.
            reason = f"mailgun http {response.status_code}: the answer has no message id"
            raise DeliveryError(reason, channel=_CHANNEL, retryable=False)
        self._log.info("email to %s queued by mailgun as %s", label, message_id)
        return SendReceipt(provider_message_id=message_id, status=CommunicationStatus.SENT)

    def _error(self, response: httpx.Response) -> DeliveryError:
        message = json_object(response).get("message")
        if not isinstance(message, str) or not message:
            text = response.text.strip() if response.status_code != 401 else ""
            message = text[:200] or response.reason_phrase or "error"
        reason = f"mailgun http {response.status_code}: {message}"
        retryable = retryable_status(response.status_code)
        return DeliveryError(reason[:_MAX_REASON], channel=_CHANNEL, retryable=retryable)


# --------------------------------------------------------------------------- webhooks


def verify_mailgun_signature(
    signing_key: str,
    timestamp: str,
    token: str,
    signature: str,
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> bool:
    """True when ``signature`` is Mailgun's for ``timestamp`` and ``token``, and fresh.

    Mailgun's algorithm: HMAC-SHA256 of ``timestamp`` followed by ``token`` (no
    separator) with the webhook signing key, as lowercase hex. The comparison is
    constant-time. A timestamp further than ``tolerance`` from ``now`` (the
    current time by default) is refused, so a captured webhook cannot be replayed
    later; within the tolerance a replay records nothing new (the message log only
    moves forward and keeps each first timestamp).

    Args:
        signing_key: the domain's HTTP webhook signing key (not the API key).
        timestamp: ``signature.timestamp`` (seconds since the epoch, as text).
        token: ``signature.token``.
        signature: ``signature.signature``.
        now: the current time (aware).
        tolerance: how far ``timestamp`` may be from ``now``.

    .. versionadded:: 0.4
    """
    if not signing_key or not timestamp or not token or not signature:
        return False
    try:
        signed_at = datetime.fromtimestamp(float(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        return False
    current = now if now is not None else datetime.now(UTC)
    if abs(current - signed_at) > tolerance:
        return False
    expected = hmac.new(
        signing_key.encode("utf-8"), (timestamp + token).encode("utf-8"), hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().lower().encode("utf-8"))


@attrs.frozen
class MailgunEvent:
    """What one Mailgun webhook says about one message.

    ``status`` is the communication status it stands for: ``delivered``,
    ``opened``, ``clicked``, and ``failed`` with severity ``permanent``.
    Temporary failures (Mailgun retries them), ``accepted``, ``complained``,
    ``unsubscribed`` and unknown events give ``None``: answer them 200 and
    record nothing. ``provider_message_id`` is the message id without angle
    brackets, ``at`` when the event happened, ``reason`` why a failed message
    failed (``mailgun failed (550): No such mailbox``).

    .. versionadded:: 0.4
    """

    event: str
    provider_message_id: str | None
    status: CommunicationStatus | None
    at: datetime
    reason: str | None = None
    timestamp: str = ""
    token: str = ""
    signature: str = ""

    @classmethod
    def parse(cls, body: bytes) -> MailgunEvent:
        """Read a webhook's JSON body (without checking its signature).

        Raises:
            ValidationError: the body is not such a JSON document; the field
                names the part that is missing or wrong (``event-data.event``).
        """
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ValidationError.single("body", "is not JSON", "invalid_json") from None
        root = _object(document, "body")
        signed = _object(root.get("signature"), "signature")
        data = _object(root.get("event-data"), "event-data")
        event = _text(data.get("event"), "event-data.event").lower()
        at = _moment(data.get("timestamp"), "event-data.timestamp")
        status = _EVENTS.get(event)
        if event == "failed" and str(data.get("severity", "")).lower() != "permanent":
            status = None
        message = data.get("message")
        headers = message.get("headers") if isinstance(message, dict) else None
        raw_id = headers.get("message-id") if isinstance(headers, dict) else None
        if status is not None:
            raw_id = _text(raw_id, "event-data.message.headers.message-id")
        message_id = _message_id(raw_id) if isinstance(raw_id, str) and raw_id.strip() else None
        if status is not None and not message_id:
            field = "event-data.message.headers.message-id"
            raise ValidationError.single(field, "is missing", "required")
        return cls(
            event=event,
            provider_message_id=message_id,
            status=status,
            at=at,
            reason=_reason(data) if status is CommunicationStatus.FAILED else None,
            timestamp=_signed_text(signed.get("timestamp"), "signature.timestamp"),
            token=_text(signed.get("token"), "signature.token"),
            signature=_text(signed.get("signature"), "signature.signature"),
        )


def read_mailgun_webhook(
    signing_key: str,
    body: bytes,
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> MailgunEvent:
    """Read a webhook's body and check its signature; then record what it says::

        event = read_mailgun_webhook(signing_key, await request.body())
        if event.status is not None:
            core.communications.record_callback(
                event.provider_message_id, event.status, at=event.at,
                principal=Principal.webhook("mailgun"), reason=event.reason,
            )

    Raises:
        ValidationError: the body is malformed (see :meth:`MailgunEvent.parse`).
        AuthenticationError: the signature does not match or is stale.

    .. versionadded:: 0.4
    """
    event = MailgunEvent.parse(body)
    if not verify_mailgun_signature(
        signing_key, event.timestamp, event.token, event.signature, now=now, tolerance=tolerance
    ):
        msg = "the webhook's signature does not match or is too old"
        raise AuthenticationError(msg, field="signature")
    return event


def _object(value: object, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError.single(field, "must be a JSON object", "invalid")
    return value


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.single(field, "is missing", "required")
    return value


def _signed_text(value: object, field: str) -> str:
    """The signed timestamp as sent (text; some senders write it as a number)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value, field)


def _moment(value: object, field: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError.single(field, "must be seconds since the epoch", "invalid")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        raise ValidationError.single(field, "is out of range", "out_of_range") from None


def _reason(data: Mapping[str, Any]) -> str:
    status = data.get("delivery-status")
    status = status if isinstance(status, dict) else {}
    code = status.get("code")
    detail = status.get("message") or status.get("description") or data.get("reason")
    reason = "mailgun failed" + (f" ({code})" if code not in (None, "") else "")
    if isinstance(detail, str) and detail.strip():
        reason += f": {detail.strip()}"
    return reason[:_MAX_REASON]
