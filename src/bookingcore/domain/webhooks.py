"""Signed webhooks to partners: how a receiver knows a call came from us.

Every webhook carries the header ``X-Bookingcore-Signature``::

    X-Bookingcore-Signature: t=1767258000,v1=3f1c...e9a0

The scheme, precisely, so a partner can check it in any language:

1. The header value is a list of ``key=value`` items separated by commas
   (spaces around items are ignored). Keys are case-sensitive.
2. ``t`` appears exactly once: the time of signing in whole seconds since the
   Unix epoch (UTC), written in ASCII decimal digits.
3. ``v1`` appears one or more times: each is the HMAC-SHA256 of the *signed
   payload*, keyed with a webhook signing secret (its UTF-8 bytes), written
   as 64 lowercase hexadecimal characters. While a secret is being rotated
   the sender adds one ``v1`` per secret; a receiver accepts the request when
   any ``v1`` matches a secret it holds.
4. The signed payload is the bytes of ``t`` as written in the header, one
   full stop (``.``, 0x2E), then the request body exactly as received: the
   raw bytes, before any JSON parsing.
5. Compare signatures in constant time, then refuse a ``t`` more than the
   tolerance (five minutes by default) before or after the receiver's clock,
   so a captured request cannot be replayed later.
6. Items with other keys (a future ``v2``) are ignored, so senders can add
   schemes without breaking receivers.

Bodies are JSON, serialised canonically by :func:`signed_request`: keys
sorted, no insignificant whitespace, UTF-8. Receivers must still verify the
bytes they received, never a re-serialisation.

Times are passed in; nothing here reads a clock.

.. versionadded:: 0.1
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import attrs

from bookingcore.domain.values import ensure_aware
from bookingcore.errors import AuthenticationError, ValidationError

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "SignedWebhook",
    "WebhookSecrets",
    "sign",
    "signed_request",
    "verify",
]

#: The HTTP header that carries the signature.
SIGNATURE_HEADER = "X-Bookingcore-Signature"

#: How far a signature's timestamp may be from the receiver's clock, either way.
DEFAULT_TOLERANCE = timedelta(minutes=5)

#: One signing secret, or several (one ``v1`` each) while a secret is rotated.
WebhookSecrets = str | bytes | Sequence[str | bytes]

_SCHEME = "v1"
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")


def _keys(secret: WebhookSecrets) -> list[bytes]:
    secrets = [secret] if isinstance(secret, str | bytes) else list(secret)
    keys = [s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in secrets]
    if not keys or not all(keys):
        raise ValidationError.single("secret", "a webhook secret must not be empty", "required")
    return keys


def _digest(key: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: WebhookSecrets, body: bytes, timestamp: datetime) -> str:
    """The ``X-Bookingcore-Signature`` value for ``body`` sent at ``timestamp``.

    Args:
        secret: the partner's webhook signing secret, or several secrets during
            a rotation (one ``v1`` each, in the order given).
        body: the exact bytes of the request body.
        timestamp: when the request is sent; sub-second parts are dropped.

    Raises:
        ValidationError: on ``timestamp`` when it is naive, on ``secret`` when
            a secret is empty.

    .. versionadded:: 0.1
    """
    keys = _keys(secret)
    seconds = str(int(ensure_aware(timestamp, "timestamp").timestamp()))
    signatures = ",".join(f"{_SCHEME}={_digest(key, seconds, body)}" for key in keys)
    return f"t={seconds},{signatures}"


def _parse(header: str) -> tuple[str, list[str]]:
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, equals, value = item.strip().partition("=")
        if not equals or not key:
            msg = "malformed webhook signature header: expected comma-separated key=value items"
            raise AuthenticationError(msg, field="signature")
        if key == "t":
            timestamps.append(value)
        elif key == _SCHEME:
            signatures.append(value)
    if len(timestamps) != 1:
        msg = "malformed webhook signature header: it needs exactly one t=<unix seconds>"
        raise AuthenticationError(msg, field="signature")
    if not _TIMESTAMP.fullmatch(timestamps[0]):
        msg = "malformed webhook signature header: t must be whole seconds since the epoch"
        raise AuthenticationError(msg, field="signature")
    if not signatures:
        msg = f"webhook signature header has no {_SCHEME} signature"
        raise AuthenticationError(msg, field="signature")
    return timestamps[0], signatures


def verify(
    secret: WebhookSecrets,
    body: bytes,
    header: str | None,
    *,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """Check that ``header`` signs ``body`` with ``secret`` recently enough; return quietly if so.

    Args:
        secret: the signing secret, or every secret currently accepted during
            a rotation; the request passes when any ``v1`` matches any of them.
        body: the request body exactly as received.
        header: the ``X-Bookingcore-Signature`` value (``None`` when missing).
        now: the receiver's current time.
        tolerance: how far ``t`` may lie before or after ``now``.

    Raises:
        AuthenticationError: the header is missing or malformed, has no ``v1``,
            no ``v1`` matches, or ``t`` is outside the tolerance (a replay, or a
            clock far off).
        ValidationError: on ``now`` when it is naive, on ``tolerance`` when it
            is negative, on ``secret`` when a secret is empty.

    .. versionadded:: 0.1
    """
    keys = _keys(secret)
    current = ensure_aware(now, "now")
    if tolerance < timedelta(0):
        raise ValidationError.single("tolerance", "must not be negative", "invalid")
    if not header:
        msg = f"the {SIGNATURE_HEADER} header is missing"
        raise AuthenticationError(msg, field="signature")
    timestamp, candidates = _parse(header)
    expected = [_digest(key, timestamp, body).encode("ascii") for key in keys]
    matched = False
    for candidate in candidates:
        if not _HEX_SIGNATURE.fullmatch(candidate.lower()):
            continue
        given = candidate.lower().encode("ascii")
        for digest in expected:
            matched |= hmac.compare_digest(given, digest)
    if not matched:
        msg = "webhook signature does not match the body"
        raise AuthenticationError(msg, field="signature")
    age = current.timestamp() - int(timestamp)
    if abs(age) > tolerance.total_seconds():
        when = "old" if age > 0 else "far in the future"
        msg = f"webhook signature timestamp is too {when} ({abs(age):.0f}s from now)"
        raise AuthenticationError(msg, field="signature")


def _frozen_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(headers))


@attrs.frozen
class SignedWebhook:
    """An HTTP POST ready to send to a partner: where, the exact body, and its headers.

    Send ``body`` byte for byte: the signature covers these bytes.

    .. versionadded:: 0.1
    """

    url: str
    body: bytes
    headers: Mapping[str, str] = attrs.field(converter=_frozen_headers)


def _canonical_json(payload: Mapping[str, Any]) -> bytes:
    try:
        text = json.dumps(
            payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        msg = (
            f"is not JSON ({exc}); convert ids, times and amounts first "
            "(bookingcore.serialization does)"
        )
        raise ValidationError.single("payload", msg, "not_json") from None
    return text.encode("utf-8")


def signed_request(
    url: str, payload: Mapping[str, Any], secret: WebhookSecrets, now: datetime
) -> SignedWebhook:
    """Serialise ``payload`` canonically and sign it for ``url``.

    The body is JSON with sorted keys, compact separators and UTF-8 text; the
    headers are ``Content-Type: application/json`` and the signature header.

    Args:
        url: the partner's webhook URL (``http`` or ``https``, with a host).
        payload: JSON-ready data (str, int, float, bool, None, lists, mappings).
        secret: the signing secret, or several during a rotation.
        now: the time of signing.

    Raises:
        ValidationError: on ``url`` when it is not an http(s) URL, on ``payload``
            when it is not JSON-serialisable, on ``now`` when it is naive, on
            ``secret`` when a secret is empty.

    .. versionadded:: 0.1
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed "[" around an IPv6 address
        parts, host = None, None
    if parts is None or parts.scheme not in {"http", "https"} or not host:
        raise ValidationError.single("url", f"{url!r} is not an http(s) URL", "invalid_url")
    body = _canonical_json(payload)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, body, now),
    }
    return SignedWebhook(url=url, body=body, headers=headers)
