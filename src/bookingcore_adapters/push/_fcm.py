"""A :class:`~bookingcore.ports.Notifier` for push notifications over Firebase Cloud
Messaging's HTTP v1 API, authenticated as a Google service account.

Sending: ``POST {base_url}/v1/projects/{project_id}/messages:send`` with
``{"message": {"token", "notification": {"title", "body"}, "data"}}`` and
``Authorization: Bearer <access token>``; FCM answers
``{"name": "projects/{project_id}/messages/{id}"}``, kept as the provider message id.

Access tokens: the OAuth 2.0 JWT bearer grant Google's own libraries use. An
RS256 JWT signed with the service account's private key (claims ``iss``: the
account's ``client_email``, ``scope``, ``aud``: the token URI, ``iat``, ``exp``;
header ``kid``: the ``private_key_id``), posted form-encoded to the token URI as
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>``,
answered ``{"access_token", "expires_in", "token_type": "Bearer"}``. The token is
kept until shortly before it expires.

Needs the ``push`` extra (``pip install 'bookingcore[push]'``): httpx, and PyJWT
with ``cryptography`` for RS256.

.. versionadded:: 0.4
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import attrs
import httpx
import jwt

try:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
except ImportError as exc:  # pragma: no cover - tested in a subprocess
    _MISSING = (
        "bookingcore_adapters.push signs with RS256, which needs cryptography: "
        "pip install 'bookingcore[push]'"
    )
    raise ImportError(_MISSING) from exc

from bookingcore.domain.communications import Channel
from bookingcore.errors import DeliveryError, FieldError, RecipientGoneError, ValidationError
from bookingcore.ports.clock import Clock
from bookingcore.ports.messaging import OutgoingMessage, SendReceipt
from bookingcore_adapters._http import OwnedClient, json_object, retryable_status

__all__ = [
    "FCM_SCOPE",
    "GOOGLE_TOKEN_URI",
    "JWT_BEARER_GRANT",
    "FcmNotifier",
    "GoogleAccessTokens",
    "ServiceAccount",
]

_CHANNEL = Channel.PUSH.value
_MAX_REASON = 300

#: The OAuth scope that sends FCM messages.
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
#: Google's OAuth 2.0 token endpoint (a service account file names it as ``token_uri``).
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
#: The grant type of a signed JWT exchanged for an access token (RFC 7523).
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"

#: FCM error codes (``FcmError.errorCode``) that mean the token is gone for good.
_GONE = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})


class _UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def _http_url(value: str, field: str) -> str:
    if urlsplit(value).scheme not in {"http", "https"}:
        raise ValidationError.single(field, "must be an http(s) URL", "invalid_url")
    return value


@attrs.frozen
class ServiceAccount:
    """A Google service account's key, as in the JSON file the Firebase console
    downloads (only the fields used here). The private key is left out of ``repr``.

    .. versionadded:: 0.4
    """

    project_id: str
    client_email: str
    private_key: str = attrs.field(repr=False)
    private_key_id: str | None = None
    token_uri: str = GOOGLE_TOKEN_URI

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> ServiceAccount:
        """The account in a parsed service account file.

        Raises:
            ValidationError: on ``type`` when it is not ``service_account``, on each of
                ``project_id``, ``client_email`` and ``private_key`` that is missing,
                on ``token_uri`` when it is not an http(s) URL.
        """
        errors: list[tuple[str, str, str]] = []
        kind = info.get("type", "service_account")
        if kind != "service_account":
            errors.append(("type", f"{kind!r} is not a service account", "invalid_choice"))
        for field in ("project_id", "client_email", "private_key"):
            value = info.get(field)
            if not isinstance(value, str) or not value.strip():
                errors.append((field, "is required", "required"))
        token_uri = info.get("token_uri") or GOOGLE_TOKEN_URI
        if not isinstance(token_uri, str) or urlsplit(token_uri).scheme not in {"http", "https"}:
            errors.append(("token_uri", "must be an http(s) URL", "invalid_url"))
        if errors:
            raise ValidationError([FieldError(*error) for error in errors])
        key_id = info.get("private_key_id")
        return cls(
            project_id=str(info["project_id"]).strip(),
            client_email=str(info["client_email"]).strip(),
            private_key=str(info["private_key"]),
            private_key_id=key_id if isinstance(key_id, str) and key_id else None,
            token_uri=str(token_uri),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> ServiceAccount:
        """The account in a service account JSON file.

        Raises:
            ValidationError: on ``service_account`` when the file cannot be read or is
                not JSON, and as :meth:`from_info` for its fields.
        """
        try:
            info = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            msg = f"cannot read a service account file: {type(exc).__name__}"
            raise ValidationError.single("service_account", msg, "invalid") from None
        if not isinstance(info, dict):
            raise ValidationError.single("service_account", "is not a JSON object", "invalid")
        return cls.from_info(info)


def _account(account: ServiceAccount | Mapping[str, Any]) -> ServiceAccount:
    return account if isinstance(account, ServiceAccount) else ServiceAccount.from_info(account)


def _rsa_key(account: ServiceAccount) -> RSAPrivateKey:
    """The account's private key, loaded once; the error never shows the key."""
    try:
        key = load_pem_private_key(account.private_key.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, RSAPrivateKey):
        msg = "is not an unencrypted RSA private key in PEM"
        raise ValidationError.single("private_key", msg, "invalid")
    return key


class GoogleAccessTokens(OwnedClient):
    """OAuth 2.0 access tokens of a service account, by the JWT bearer grant, cached.

    :meth:`access_token` answers the cached token until ``refresh_before`` ahead of its
    expiry, then asks the token URI for a new one (one request at a time, however
    many threads send); :meth:`invalidate` drops it (the API answered 401).

    The assertion is an RS256 JWT made with PyJWT and ``cryptography`` (the
    ``push`` extra); the account's private key is loaded once, here.

    Args:
        account: the service account (or its parsed JSON file).
        scopes: the OAuth scopes asked for; FCM's by default.
        token_uri: where to exchange the assertion; the account's ``token_uri`` by default.
        client: an ``httpx.Client`` to reuse.
        timeout: seconds to wait for the token endpoint.
        clock: where the time comes from (``now()``); the system's UTC clock by default.
        refresh_before: how long before expiry a token is replaced.

    Raises:
        ValidationError: on ``private_key`` when the account's key is not an
            unencrypted RSA private key in PEM, on ``token_uri`` when it is not an
            http(s) URL, and as :meth:`ServiceAccount.from_info` for the account.

    .. versionadded:: 0.4
    """

    def __init__(
        self,
        account: ServiceAccount | Mapping[str, Any],
        *,
        scopes: tuple[str, ...] = (FCM_SCOPE,),
        token_uri: str | None = None,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
        clock: Clock | None = None,
        refresh_before: timedelta = timedelta(minutes=5),
    ) -> None:
        self.account = _account(account)
        self._token_uri = _http_url(token_uri or self.account.token_uri, "token_uri")
        self._scope = " ".join(scopes)
        self._key = _rsa_key(self.account)
        self._timeout = timeout
        self._clock: Clock = clock or _UtcClock()
        self._refresh_before = refresh_before
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at: datetime | None = None
        #: how many tokens were fetched (for logs and tests)
        self.fetched = 0
        super().__init__(client)

    def __repr__(self) -> str:
        return f"GoogleAccessTokens({self.account.client_email!r}, token_uri={self._token_uri!r})"

    def access_token(self) -> str:
        """A valid access token: the cached one, or a new one when it is close to expiry.

        Raises:
            DeliveryError: the token endpoint refused the assertion (not retryable: a
                wrong key, a deleted account) or could not be reached (retryable).
        """
        with self._lock:
            now = self._clock.now()
            if (
                self._token is not None
                and self._expires_at is not None
                and now < self._expires_at - self._refresh_before
            ):
                return self._token
            token, lifetime = self._fetch(now)
            self._token, self._expires_at = token, now + lifetime
            self.fetched += 1
            return token

    def invalidate(self) -> None:
        """Forget the cached token: the next :meth:`access_token` fetches a new one."""
        with self._lock:
            self._token = None
            self._expires_at = None

    def assertion(self, now: datetime) -> str:
        """The signed JWT that asks for an access token at ``now`` (valid one hour)."""
        issued = int(now.timestamp())
        claims = {
            "iss": self.account.client_email,
            "scope": self._scope,
            "aud": self._token_uri,
            "iat": issued,
            "exp": issued + 3600,
        }
        headers = {"typ": "JWT"}
        if self.account.private_key_id:
            headers["kid"] = self.account.private_key_id
        return jwt.encode(claims, self._key, algorithm="RS256", headers=headers)

    def _fetch(self, now: datetime) -> tuple[str, timedelta]:
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": self.assertion(now)}
        try:
            response = self._client.post(
                self._token_uri,
                data=form,
                timeout=self._timeout,
                headers={"Accept": "application/json"},
            )
        except httpx.TransportError as exc:
            reason = f"google token endpoint unreachable: {type(exc).__name__}: {exc}"
            raise DeliveryError(reason[:_MAX_REASON], channel=_CHANNEL, retryable=True) from None
        document = json_object(response)
        if not response.is_success:
            error = document.get("error") or f"http {response.status_code}"
            detail = document.get("error_description") or response.reason_phrase
            reason = f"google token endpoint {error}: {detail}"[:_MAX_REASON]
            raise DeliveryError(
                reason, channel=_CHANNEL, retryable=retryable_status(response.status_code)
            )
        token = document.get("access_token")
        expires_in = document.get("expires_in", 3600)
        if (
            not isinstance(token, str)
            or not token
            or not isinstance(expires_in, int)
            or isinstance(expires_in, bool)
        ):
            reason = "google token endpoint: the answer has no access token"
            raise DeliveryError(reason, channel=_CHANNEL, retryable=True)
        return token, timedelta(seconds=expires_in)


class FcmNotifier(OwnedClient):
    """Sends push messages through Firebase Cloud Messaging (HTTP v1).

    Each message the communications service hands over is one device: its
    ``recipient`` is the device's registration token, its ``subject`` the
    notification's title, its ``data`` the message's data payload. FCM's answer
    ``name`` (``projects/p/messages/0:1234``) becomes the provider message id.

    FCM's errors map to the library's: ``UNREGISTERED`` (404),
    ``SENDER_ID_MISMATCH`` (403) and an ``INVALID_ARGUMENT`` (400) about the token
    (``message.token``) raise :class:`~bookingcore.errors.RecipientGoneError` (the
    device is deactivated, not retried); ``QUOTA_EXCEEDED`` (429), ``UNAVAILABLE``
    (503), ``INTERNAL`` (500), timeouts and network errors a retryable
    :class:`~bookingcore.errors.DeliveryError`; any other 4xx (a malformed message,
    ``THIRD_PARTY_AUTH_ERROR``) one that is not retryable. A 401 drops the cached
    access token and tries once more with a new one. The reason is ``fcm <status>
    <errorCode>: <message>``; the access token and the private key never appear in
    a reason, a log or the ``repr``.

    Args:
        account: the service account (or its parsed JSON file); its ``project_id``
            is the Firebase project messages are sent from.
        base_url: where the FCM API lives.
        token_uri: where access tokens come from (the account's ``token_uri`` by default).
        tokens: a :class:`GoogleAccessTokens` to use instead of building one.
        client: an ``httpx.Client`` to reuse (for FCM and the token endpoint).
        timeout: seconds to wait for FCM, per request.
        logger: the logger to use instead of ``bookingcore.push``.
        **options: the other keyword arguments of :class:`GoogleAccessTokens`
            (``clock``, ``refresh_before``).

    Raises:
        ValidationError: on ``base_url`` when it is not an http(s) URL, and as
            :class:`GoogleAccessTokens`.

    .. versionadded:: 0.4
    """

    def __init__(
        self,
        account: ServiceAccount | Mapping[str, Any],
        *,
        base_url: str = "https://fcm.googleapis.com",
        token_uri: str | None = None,
        tokens: GoogleAccessTokens | None = None,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
        logger: logging.Logger | None = None,
        **options: Any,
    ) -> None:
        self.account = _account(account)
        _http_url(base_url, "base_url")
        if not timeout > 0:
            raise ValidationError.single("timeout", "must be a positive number of seconds")
        super().__init__(client)
        self.tokens = tokens or GoogleAccessTokens(
            self.account, token_uri=token_uri, client=self._client, timeout=timeout, **options
        )
        project = quote(self.account.project_id, safe="")
        self._url = f"{base_url.rstrip('/')}/v1/projects/{project}/messages:send"
        self._timeout = timeout
        self._log = logger or logging.getLogger("bookingcore.push")

    def __repr__(self) -> str:
        return f"FcmNotifier(project_id={self.account.project_id!r}, url={self._url!r})"

    def send(self, message: OutgoingMessage) -> SendReceipt:
        """Send ``message`` to the device whose token is its ``recipient``.

        Raises:
            RecipientGoneError: FCM no longer knows the token.
            DeliveryError: not a push message, or FCM refused it or could not be
                reached (``retryable`` says whether trying later may help).
        """
        if message.channel is not Channel.PUSH:
            msg = f"FcmNotifier sends push notifications, not {message.channel.value}"
            raise DeliveryError(msg, channel=message.channel.value, retryable=False)
        notification = {"body": message.body}
        if message.subject:
            notification["title"] = message.subject
        document: dict[str, Any] = {"token": message.recipient, "notification": notification}
        if message.data:
            document["data"] = {str(k): str(v) for k, v in message.data.items()}
        label = f"communication {message.communication_id}"
        response = self._post({"message": document}, label)
        if response.status_code == httpx.codes.UNAUTHORIZED:
            self.tokens.invalidate()  # revoked or expired early: one more try, a new token
            response = self._post({"message": document}, label)
        if response.is_success:
            name = json_object(response).get("name")
            if not isinstance(name, str) or not name:
                # FCM may have taken it: do not invite a retry that pushes it twice.
                reason = f"fcm http {response.status_code}: the answer has no message name"
                raise DeliveryError(reason, channel=_CHANNEL, retryable=False)
            self._log.info("push for %s accepted by fcm as %s", label, name)
            return SendReceipt(provider_message_id=name)
        error = self._error(response)
        self._log.warning("push for %s failed: %s", label, error.reason)
        raise error

    def _post(self, body: Mapping[str, Any], label: str) -> httpx.Response:
        token = self.tokens.access_token()
        try:
            return self._client.post(
                self._url,
                json=body,
                timeout=self._timeout,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
        except httpx.TransportError as exc:
            retryable = not isinstance(exc, httpx.UnsupportedProtocol)
            reason = f"fcm unreachable: {type(exc).__name__}: {exc}"[:_MAX_REASON]
            self._log.warning("push for %s failed: %s", label, reason)
            raise DeliveryError(reason, channel=_CHANNEL, retryable=retryable) from None

    def _error(self, response: httpx.Response) -> DeliveryError:
        error = json_object(response).get("error")
        error = error if isinstance(error, dict) else {}
        status = error.get("status") if isinstance(error.get("status"), str) else None
        message = error.get("message") if isinstance(error.get("message"), str) else None
        fcm_code, token_field = _details(error.get("details"))
        code = fcm_code or status or f"http {response.status_code}"
        reason = f"fcm {response.status_code} {code}: {message or response.reason_phrase}"
        reason = reason[:_MAX_REASON]
        about_token = token_field or (message is not None and "registration token" in message)
        if fcm_code in _GONE or (code == "INVALID_ARGUMENT" and about_token):
            return RecipientGoneError(reason, channel=_CHANNEL)
        return DeliveryError(
            reason, channel=_CHANNEL, retryable=retryable_status(response.status_code)
        )


def _details(details: object) -> tuple[str | None, bool]:
    """The ``FcmError`` code in an error's details, and whether a ``BadRequest``
    names the token as the field at fault."""
    fcm_code = None
    token_field = False
    if not isinstance(details, list):
        return None, False
    for detail in details:
        if not isinstance(detail, dict):
            continue
        kind = detail.get("@type", "")
        if isinstance(kind, str) and kind.endswith("google.firebase.fcm.v1.FcmError"):
            found = detail.get("errorCode")
            fcm_code = found if isinstance(found, str) else fcm_code
        violations = detail.get("fieldViolations")
        if isinstance(violations, list):
            token_field |= any(
                isinstance(v, dict) and v.get("field") == "message.token" for v in violations
            )
    return fcm_code, token_field
