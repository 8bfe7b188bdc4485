"""Sign partner webhooks and POST them with httpx.

.. versionadded:: 0.2
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import attrs
import httpx
from standardwebhooks import Webhook

from bookingcore.domain.partner_webhooks import (
    SignatureScheme,
    is_public_address,
    literal_address,
    redact_url_password,
)
from bookingcore.domain.webhooks import SIGNATURE_HEADER, sign
from bookingcore.errors import ValidationError
from bookingcore.ports.webhooks import OutgoingWebhook, WebhookResponse
from bookingcore_adapters._http import OwnedClient

__all__ = ["HttpxWebhookSender", "signed_headers"]

_log = logging.getLogger("bookingcore.webhooks")

_PREFIX = "whsec_"
_MIN_KEY_BYTES = 16
_MAX_EXCERPT = 300
#: The most body bytes read for the excerpt: 300 characters of up to 4 bytes each.
_MAX_EXCERPT_BYTES = 4 * _MAX_EXCERPT
_USER_AGENT = "bookingcore-webhooks/0.2"
_MAX_RETRY_AFTER = 86_400


def _standard_secret(secret: str) -> str:
    """``secret`` checked to be ``whsec_`` and strict base64 of a key of 16+ bytes."""
    encoded = secret.removeprefix(_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) < _MIN_KEY_BYTES:
        msg = (
            "is not a Standard Webhooks secret (whsec_ and base64 of 16 or more bytes); "
            "rotate the partner's webhook secret to get one"
        )
        raise ValidationError.single("webhook_secret", msg, "invalid_secret")
    return secret


def signed_headers(webhook: OutgoingWebhook) -> dict[str, str]:
    """The HTTP headers of ``webhook``, signed by its scheme.

    Always ``Content-Type``, ``User-Agent`` and ``webhook-id``. The
    ``standard`` scheme adds ``webhook-timestamp`` (whole seconds since the
    epoch) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of
    ``"{id}.{timestamp}.{body}"``, computed by the ``standardwebhooks``
    package); ``bookingcore`` adds ``X-Bookingcore-Signature`` (see
    :mod:`bookingcore.domain.webhooks`); ``both`` adds all three.

    With a ``previous_secret`` (a rotation's grace period) each signature
    header carries a signature by it too, after the current one's:
    ``webhook-signature: v1,<current> v1,<previous>`` (space separated, as
    the Standard Webhooks specification lets a sender do) and a second ``v1=``
    in ``X-Bookingcore-Signature``. A receiver holding either secret accepts.
    A previous secret that cannot sign by the standard scheme is left out of
    ``webhook-signature``.

    Raises:
        ValidationError: on ``webhook_secret`` when the secret cannot sign by
            the standard scheme, on ``secret`` when it is empty.

    .. versionadded:: 0.2
    """
    headers = {
        "Content-Type": "application/json",
        "User-Agent": _USER_AGENT,
        "webhook-id": webhook.webhook_id,
    }
    scheme = webhook.scheme
    if scheme in (SignatureScheme.STANDARD, SignatureScheme.BOTH):
        signers = [Webhook(_standard_secret(webhook.secret))]
        if webhook.previous_secret:
            try:
                signers.append(Webhook(_standard_secret(webhook.previous_secret)))
            except ValidationError:
                _log.warning("webhook %s: the previous secret cannot sign", webhook.webhook_id)
        headers["webhook-timestamp"] = str(int(webhook.timestamp.timestamp()))
        # UTC, and the body as its text: standardwebhooks releases before bytes support
        # sign f"{id}.{timestamp}.{data}" (bytes would sign "b'...'") and take the time's
        # wall clock as UTC. The text's UTF-8 is the body, byte for byte.
        at = webhook.timestamp.astimezone(UTC)
        try:
            data: str | bytes = webhook.body.decode("utf-8")
        except UnicodeDecodeError:  # not text: only a release that signs bytes can
            data = webhook.body
        headers["webhook-signature"] = " ".join(
            signer.sign(webhook.webhook_id, at, data) for signer in signers
        )
    if scheme in (SignatureScheme.BOOKINGCORE, SignatureScheme.BOTH):
        keys = [webhook.secret]
        if webhook.previous_secret:
            keys.append(webhook.previous_secret)
        headers[SIGNATURE_HEADER] = sign(keys, webhook.body, webhook.timestamp)
    return headers


class HttpxWebhookSender(OwnedClient):
    """Signs each webhook by its partner's scheme and POSTs it with httpx.

    Any 2xx answer is a delivery. Redirects are not followed (a 3xx is a
    failure: a receiver that moved should update its URL). A ``Retry-After``
    header on a failed answer (seconds or an HTTP date) comes back as the
    response's ``retry_after``. A timeout, a
    refused connection or any other transport error is a retryable failure;
    a URL that is not http(s) or that httpx cannot parse, or a secret that
    cannot sign, is not.

    Unless the webhook allows private addresses
    (:attr:`~bookingcore.ports.OutgoingWebhook.allow_private_addresses`, from
    :attr:`~bookingcore.services.WebhookSettings.allow_private_addresses`), the
    URL's host is resolved once and every address it resolves to must be public
    (:func:`~bookingcore.domain.partner_webhooks.is_public_address`): one that is
    loopback, private, link-local (the cloud metadata service at
    ``169.254.169.254``), unique-local or otherwise non-public fails the attempt
    for good (``retryable=False``) without a request. The request then goes to
    the first address checked, not to a second lookup of the name, so a DNS
    answer that changes in between (DNS rebinding) cannot redirect it; the
    ``Host`` header and, for https, the TLS server name and certificate check
    stay those of the URL's host. A name that does not resolve is a retryable
    failure.

    The status code is the answer: of the body only the first 300 characters
    are read (the attempt log's excerpt), and no longer than ``timeout`` after
    the request started, so a huge or trickling body cannot hold the worker.

    Args:
        timeout: seconds to wait for the receiver, per attempt (keep it below
            :attr:`~bookingcore.services.WebhookSettings.lease`): for the
            connection and each read, and for the excerpt of the body in all.
        client: an ``httpx.Client`` to reuse (proxies, test transports); the
            sender closes only a client it created.
        logger: the logger to use instead of ``bookingcore.webhooks``.

    Raises:
        ValidationError: on ``timeout`` when not positive.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not timeout > 0:
            raise ValidationError.single("timeout", "must be a positive number of seconds")
        self._timeout = timeout
        super().__init__(client)
        self._log = logger or _log

    def send(self, webhook: OutgoingWebhook) -> WebhookResponse:
        """POST ``webhook``; every outcome comes back as a :class:`WebhookResponse`."""
        try:
            scheme = urlsplit(webhook.url).scheme
        except ValueError as exc:  # e.g. an unclosed "[" around an IPv6 address
            return WebhookResponse(None, 0, error=f"unusable URL: {exc}", retryable=False)
        if scheme not in ("http", "https"):
            error = f"{redact_url_password(webhook.url)!r} is not an http(s) URL"
            return WebhookResponse(None, 0, error=error, retryable=False)
        try:
            headers = signed_headers(webhook)
        except ValidationError as exc:
            return WebhookResponse(None, 0, error=str(exc), retryable=False)
        started = time.perf_counter()
        target: str | httpx.URL = webhook.url
        extensions: dict[str, str] = {}
        if not webhook.allow_private_addresses:
            try:
                checked = _checked_address(webhook.url)
            except httpx.InvalidURL as exc:
                return WebhookResponse(None, 0, error=f"unusable URL: {exc}", retryable=False)
            if isinstance(checked, WebhookResponse):
                return attrs.evolve(checked, latency_ms=_elapsed_ms(started))
            target, host_header, sni = checked
            headers["Host"] = host_header
            if sni is not None:
                extensions["sni_hostname"] = sni
        try:
            # Streamed: the status is the answer; of the body only the excerpt is read,
            # within the timeout, so a huge or trickling body cannot hold the worker.
            with self._client.stream(
                "POST",
                target,
                content=webhook.body,
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
                extensions=extensions,
            ) as response:
                excerpt = self._excerpt(response, started)
        except httpx.TimeoutException:
            latency = _elapsed_ms(started)
            return WebhookResponse(None, latency, error=f"timed out after {self._timeout:g}s")
        except httpx.ConnectError as exc:
            return WebhookResponse(None, _elapsed_ms(started), error=f"connection failed: {exc}")
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return WebhookResponse(None, 0, error=f"unusable URL: {exc}", retryable=False)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            return WebhookResponse(None, _elapsed_ms(started), error=error)
        latency = _elapsed_ms(started)
        if response.is_success:
            return WebhookResponse(response.status_code, latency, response_excerpt=excerpt)
        error = f"HTTP {response.status_code} {response.reason_phrase}".strip()
        return WebhookResponse(
            response.status_code,
            latency,
            error=error,
            response_excerpt=excerpt,
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )

    def _excerpt(self, response: httpx.Response, started: float) -> str | None:
        """The start of the answer's body (for the attempt log), read until there is
        enough of it, the body ends, or the sender's timeout has passed since ``started``."""
        data = bytearray()
        try:
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) >= _MAX_EXCERPT_BYTES:
                    break
                if time.perf_counter() - started >= self._timeout:
                    break
        except httpx.HTTPError:
            pass  # the status came; a body cut short only shortens the excerpt
        try:
            text = bytes(data).decode(response.charset_encoding or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            text = bytes(data).decode("utf-8", errors="replace")
        return text[:_MAX_EXCERPT] or None


def _checked_address(url: str) -> tuple[httpx.URL, str, str | None] | WebhookResponse:
    """``url`` with its host replaced by the one address it was checked to resolve
    to, the ``Host`` header of the original, and the TLS server name to send (https
    to a host name); or the failed attempt when the host does not resolve or
    resolves to any non-public address.

    Raises:
        httpx.InvalidURL: httpx cannot parse ``url``.
    """
    parsed = httpx.URL(url)
    host = parsed.raw_host.decode("ascii")  # IDNA encoded; an IPv6 address without brackets
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    literal = literal_address(host)
    addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    if literal is not None:
        addresses.append(literal)
    else:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            return WebhookResponse(None, 0, error=f"could not resolve {host}: {exc}")
        for *_, sockaddr in found:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
    refused = [a for a in addresses if not is_public_address(a)]
    if refused or not addresses:
        shown = ", ".join(str(a) for a in refused) or "nothing"
        error = (
            f"refused: {host} resolves to {shown}, not a public address (loopback, "
            "private, link-local or reserved); set WebhookSettings("
            "allow_private_addresses=True) to send to such hosts"
        )
        return WebhookResponse(None, 0, error=error, retryable=False)
    pinned = parsed.copy_with(host=str(addresses[0]))
    sni = host if parsed.scheme == "https" and literal is None else None
    return pinned, parsed.netloc.decode("ascii"), sni


def _retry_after(value: str | None) -> timedelta | None:
    """A ``Retry-After`` header as a wait: whole seconds, or an HTTP date from now;
    ``None`` when absent or unreadable."""
    text = (value or "").strip()
    if text.isdigit():  # capped: a day is past any retry policy's longest wait anyway
        return timedelta(seconds=min(int(text), _MAX_RETRY_AFTER))
    if not text:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - datetime.now(UTC), timedelta(0))


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))
