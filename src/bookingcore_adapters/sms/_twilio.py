"""An :class:`~bookingcore.ports.SmsSender` over Twilio's Messages REST API.

``POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with a
form-encoded ``To``, ``From`` (or ``MessagingServiceSid``), ``Body`` and
optionally ``StatusCallback``, authenticated with HTTP basic auth
(AccountSid:AuthToken). Any gateway that speaks this shape works: point
``base_url`` at it.

.. versionadded:: 0.1
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from uuid import UUID

import attrs
import httpx

from bookingcore.domain.communications import Channel, CommunicationStatus, check_message_length
from bookingcore.domain.values import CommunicationId, PhoneNumber
from bookingcore.errors import AuthenticationError, DeliveryError, ValidationError
from bookingcore.ports.messaging import OutgoingMessage, SendReceipt
from bookingcore_adapters._http import OwnedClient, json_object, retryable_status

__all__ = [
    "TwilioNotifier",
    "TwilioSmsSender",
    "TwilioStatusReport",
    "read_twilio_status_callback",
    "twilio_status",
    "verify_twilio_signature",
]

_CHANNEL = "sms"
_MAX_REASON = 300
#: The query parameter a message's ``StatusCallback`` URL names its communication by.
_COMMUNICATION_PARAM = "communication_id"

#: Twilio message statuses and what they mean for the communications log.
_STATUSES: Mapping[str, CommunicationStatus] = {
    "accepted": CommunicationStatus.SENT,
    "scheduled": CommunicationStatus.SENT,
    "queued": CommunicationStatus.SENT,
    "sending": CommunicationStatus.SENT,
    "sent": CommunicationStatus.SENT,
    "delivered": CommunicationStatus.DELIVERED,
    "partially_delivered": CommunicationStatus.DELIVERED,
    "read": CommunicationStatus.OPENED,
    "undelivered": CommunicationStatus.FAILED,
    "failed": CommunicationStatus.FAILED,
    "canceled": CommunicationStatus.FAILED,
}


def twilio_status(status: str) -> CommunicationStatus | None:
    """The communication status a Twilio message status stands for.

    ``queued``, ``accepted``, ``scheduled``, ``sending`` and ``sent`` are
    :attr:`~CommunicationStatus.SENT` (handed over), ``delivered`` is
    :attr:`~CommunicationStatus.DELIVERED`, ``read`` is
    :attr:`~CommunicationStatus.OPENED`, ``failed``, ``undelivered`` and
    ``canceled`` are :attr:`~CommunicationStatus.FAILED`. Inbound statuses
    (``receiving``, ``received``) and unknown ones give ``None``. Use it on the
    ``MessageStatus`` of a status callback.

    .. versionadded:: 0.1
    """
    return _STATUSES.get(status.strip().lower())


def _callback_url(configured: str, communication_id: UUID) -> str:
    """``configured`` with ``communication_id=<id>`` added to its query, which is
    otherwise kept as written (before any fragment)."""
    head, hash_mark, fragment = configured.partition("#")
    joiner = "&" if "?" in head else "?"
    if head.endswith(("?", "&")):
        joiner = ""
    return f"{head}{joiner}{_COMMUNICATION_PARAM}={communication_id}{hash_mark}{fragment}"


def _callback_communication(url: str) -> CommunicationId | None:
    """The communication id the callback URL carries (its last ``communication_id``)."""
    given = [
        value
        for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True)
        if name == _COMMUNICATION_PARAM
    ]
    if not given:
        return None
    try:
        return CommunicationId(UUID(given[-1]))
    except ValueError:
        msg = "the callback URL's communication_id is not a communication id"
        raise ValidationError.single(_COMMUNICATION_PARAM, msg, "invalid") from None


def _signature(auth_token: str, url: str, params: Mapping[str, str]) -> bytes:
    message = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), message.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest)


def _port_variants(url: str) -> list[str]:
    """``url`` as given, and with its default port added or removed.

    Proxies disagree on whether the port is part of the URL Twilio signed;
    Twilio's own libraries accept either spelling, and so does this module.
    """
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if default is None or not parts.hostname:
        return [url]
    userinfo, _, _ = parts.netloc.rpartition("@")
    prefix = f"{userinfo}@" if userinfo else ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = parts.port
    except ValueError:
        return [url]
    if port is None:
        other = parts._replace(netloc=f"{prefix}{host}:{default}")
    elif port == default:
        other = parts._replace(netloc=f"{prefix}{host}")
    else:
        return [url]
    return [url, urlunsplit(other)]


def verify_twilio_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """True when ``signature`` is Twilio's ``X-Twilio-Signature`` for this request.

    Twilio's algorithm: take the full URL Twilio called (scheme, host, path and
    query string), append the name and value of every POST parameter sorted by
    name, with no separators; HMAC-SHA1 that with the auth token as the key;
    base64-encode the digest. The comparison is constant-time, and the URL is
    tried with and without its default port (``:443``), as Twilio's own
    libraries do.

    Args:
        auth_token: the account's auth token (the signing key).
        url: the full URL of the callback as Twilio requested it.
        params: the form-encoded POST parameters of the callback.
        signature: the ``X-Twilio-Signature`` header (``None`` when missing).

    .. versionadded:: 0.1
    """
    if not signature or not auth_token:
        return False
    given = signature.strip().encode("utf-8")
    matched = False
    for candidate in _port_variants(url):
        matched |= hmac.compare_digest(given, _signature(auth_token, candidate, params))
    return matched


class TwilioSmsSender(OwnedClient):
    """Sends texts through Twilio's REST API (or any gateway with its shape).

    Give exactly one of ``from_number`` (a Twilio number, short code or
    alphanumeric sender id) and ``messaging_service_sid``. A ``reference`` is
    logged with the outcome but not sent: Twilio defines no idempotency header,
    so a retried ``send_sms`` after a timeout may send the text twice.

    Failures raise :class:`~bookingcore.errors.DeliveryError` with the reason
    ``"twilio <code>: <message>"``. Twilio refusing the message (an invalid or
    unsubscribed number, a region not enabled, HTTP 4xx) is not retryable;
    rate limiting (HTTP 429, code 20429), server errors (5xx), timeouts and
    network failures are. The auth token never appears in a message or log.

    Close the sender (or use it as a context manager) to close the HTTP client
    it created; a ``client`` passed in stays open for its owner.

    Args:
        account_sid: the account (``AC...``); also the basic-auth user name.
        auth_token: the account's auth token; the basic-auth password.
        from_number: the sender, when not using a messaging service.
        messaging_service_sid: the messaging service (``MG...``) that picks a sender.
        base_url: where the API lives.
        timeout: seconds to wait for the API, per request.
        client: an ``httpx.Client`` to reuse (connection pooling, proxies, test transports).
        status_callback: the URL Twilio calls with delivery status updates.
        logger: the logger to use instead of ``bookingcore.sms``.

    Raises:
        ValidationError: on ``from_number`` when neither or both senders are
            given, on ``from_number``/``messaging_service_sid`` when blank, on
            ``account_sid``/``auth_token`` when empty, on ``base_url`` and
            ``status_callback`` when not an http(s) URL, on ``timeout`` when not positive.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: PhoneNumber | str | None = None,
        *,
        messaging_service_sid: str | None = None,
        base_url: str = "https://api.twilio.com",
        timeout: float = 10.0,
        client: httpx.Client | None = None,
        status_callback: str | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not account_sid.strip():
            raise ValidationError.single("account_sid", "is required", "required")
        if not auth_token:
            raise ValidationError.single("auth_token", "is required", "required")
        if (from_number is None) == (messaging_service_sid is None):
            msg = "give exactly one of from_number and messaging_service_sid"
            raise ValidationError.single("from_number", msg, "invalid")
        for name, given in (
            ("from_number", from_number),
            ("messaging_service_sid", messaging_service_sid),
        ):
            if given is not None and not str(given).strip():
                # Twilio would refuse every text (21603, 21212) at send time.
                raise ValidationError.single(name, "must not be blank", "required")
        if urlsplit(base_url).scheme not in {"http", "https"}:
            raise ValidationError.single("base_url", "must be an http(s) URL", "invalid_url")
        if status_callback is not None and not (
            urlsplit(status_callback).scheme in {"http", "https"}
            and urlsplit(status_callback).hostname
        ):
            # Twilio refuses every message with such a callback (21609).
            msg = "must be an absolute http(s) URL"
            raise ValidationError.single("status_callback", msg, "invalid_url")
        if not timeout > 0:
            raise ValidationError.single("timeout", "must be a positive number of seconds")
        self._account_sid = account_sid.strip()
        self._auth = httpx.BasicAuth(self._account_sid, auth_token)
        self._sender: tuple[str, str] = (
            ("From", str(from_number).strip())
            if from_number is not None
            else ("MessagingServiceSid", str(messaging_service_sid).strip())
        )
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{self._account_sid}/Messages.json"
        self._timeout = timeout
        self._status_callback = status_callback
        super().__init__(client)
        self._log = logger or logging.getLogger("bookingcore.sms")

    def __repr__(self) -> str:
        return f"TwilioSmsSender(account_sid={self._account_sid!r}, url={self._url!r})"

    def send_sms(
        self,
        to: PhoneNumber,
        body: str,
        *,
        reference: str | None = None,
        communication_id: UUID | None = None,
    ) -> SendReceipt:
        """Ask Twilio to send ``body`` to ``to``.

        With ``communication_id`` (the logged message's id) and a
        ``status_callback``, the message's ``StatusCallback`` is that URL with
        ``communication_id=<id>`` added to its query (the query it has is kept), so
        its status callbacks name the message even before its sid is recorded
        (:attr:`TwilioStatusReport.communication_id`).

        Returns:
            Twilio's message sid and its status (``queued``, ``accepted`` and
            ``sent`` all count as sent).

        Raises:
            ValidationError: on ``body`` when it is longer than Twilio takes
                (:data:`~bookingcore.domain.communications.SMS_MAX_LENGTH`; Twilio
                would refuse it with error 21617): nothing is sent.
            DeliveryError: Twilio refused the message or could not be reached;
                ``retryable`` tells whether trying again may help.

        .. versionchanged:: 0.4
           ``communication_id``.
        .. versionchanged:: 0.4
           A body over 1600 characters is refused before the request.
        """
        check_message_length(Channel.SMS, body)
        form = {"To": to.e164, self._sender[0]: self._sender[1], "Body": body}
        if self._status_callback:
            form["StatusCallback"] = (
                self._status_callback
                if communication_id is None
                else _callback_url(self._status_callback, communication_id)
            )
        label = f"{to.masked()}" + (f" (reference {reference})" if reference else "")
        try:
            response = self._client.post(
                self._url,
                data=form,
                auth=self._auth,
                timeout=self._timeout,
                headers={"Accept": "application/json", "Accept-Charset": "utf-8"},
            )
        except httpx.TransportError as exc:
            # A bad URL scheme will not get better by waiting; the network may.
            retryable = not isinstance(exc, httpx.UnsupportedProtocol)
            reason = f"twilio unreachable: {type(exc).__name__}: {exc}"[:_MAX_REASON]
            self._log.warning("sms to %s failed: %s", label, reason)
            raise DeliveryError(reason, channel=_CHANNEL, retryable=retryable) from None
        if response.is_success:
            return self._receipt(response, label)
        error = self._error(response)
        self._log.warning("sms to %s failed: %s", label, error.reason)
        raise error

    def _receipt(self, response: httpx.Response, label: str) -> SendReceipt:
        document = json_object(response)
        sid = document.get("sid")
        if not isinstance(sid, str) or not sid:
            # Twilio may have queued the text: do not invite a retry that sends it twice.
            reason = f"twilio http {response.status_code}: the answer has no message sid"
            raise DeliveryError(reason, channel=_CHANNEL, retryable=False)
        raw_status = document.get("status")
        status = twilio_status(raw_status) if isinstance(raw_status, str) else None
        if status is CommunicationStatus.FAILED:
            code = document.get("error_code")
            detail = document.get("error_message") or raw_status
            reason = f"twilio {code or raw_status}: {detail} (message {sid})"[:_MAX_REASON]
            # The sid goes with the failure: Twilio's later reports for it must find the message.
            raise DeliveryError(reason, channel=_CHANNEL, retryable=False, provider_message_id=sid)
        self._log.info("sms to %s accepted by twilio as %s (%s)", label, sid, raw_status)
        return SendReceipt(provider_message_id=sid, status=status or CommunicationStatus.SENT)

    def _error(self, response: httpx.Response) -> DeliveryError:
        document = json_object(response)
        code = document.get("code")
        message = document.get("message")
        if not isinstance(message, str) or not message:
            message = response.reason_phrase or "error"
        if isinstance(code, int) and not isinstance(code, bool):
            reason = f"twilio {code}: {message}"
        else:
            reason = f"twilio http {response.status_code}: {message}"
        retryable = retryable_status(response.status_code) or code == 20429
        return DeliveryError(reason[:_MAX_REASON], channel=_CHANNEL, retryable=retryable)


# --------------------------------------------------------------------------- notifier


class TwilioNotifier:
    """A :class:`~bookingcore.ports.Notifier` that sends SMS messages through Twilio.

    Takes the same arguments as :class:`TwilioSmsSender` (or a ``sender``
    built already) and sends each SMS message of the communications log: the
    request Twilio's own SDK makes (``POST .../Messages.json``, form-encoded
    ``To``, ``From`` or ``MessagingServiceSid``, ``Body``, ``StatusCallback``,
    basic auth), answered with the message's ``sid`` (the provider message id
    that :func:`read_twilio_status_callback` reports on) and ``status``. The
    communication id goes along as the reference in the log, and in the
    ``StatusCallback`` URL's query (``communication_id=<id>``, after any query
    the configured URL has): Twilio signs the URL it calls, query included, and
    :func:`read_twilio_status_callback` gives the id back, so a callback that
    arrives before the answer's sid is recorded (or for a message whose sender
    died before recording it) still finds its message.

    Messages on other channels, and recipients that are not phone numbers,
    fail without a request (not retryable).

    Args:
        account_sid: as :class:`TwilioSmsSender`.
        auth_token: as :class:`TwilioSmsSender`.
        from_number: as :class:`TwilioSmsSender`.
        sender: a :class:`TwilioSmsSender` to use instead of building one.
        **options: the other keyword arguments of :class:`TwilioSmsSender`
            (``messaging_service_sid``, ``base_url``, ``timeout``, ``client``,
            ``status_callback``, ``logger``).

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       The ``StatusCallback`` URL carries the communication id.
    """

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        from_number: PhoneNumber | str | None = None,
        *,
        sender: TwilioSmsSender | None = None,
        **options: Any,
    ) -> None:
        if sender is None:
            if account_sid is None or auth_token is None:
                msg = "give account_sid and auth_token, or a sender"
                raise ValidationError.single("account_sid", msg, "required")
            sender = TwilioSmsSender(account_sid, auth_token, from_number, **options)
        self.sender = sender

    def __repr__(self) -> str:
        return f"TwilioNotifier({self.sender!r})"

    def send(self, message: OutgoingMessage) -> SendReceipt:
        """Send ``message`` as an SMS.

        Raises:
            DeliveryError: not an SMS message, a recipient that is not a phone
                number, a body longer than an SMS carries (all three without a
                request, not retryable), or Twilio's refusal (see
                :class:`TwilioSmsSender`).

        .. versionchanged:: 0.4
           A body over 1600 characters fails without a request.
        """
        if message.channel is not Channel.SMS:
            msg = f"TwilioNotifier sends sms, not {message.channel.value}"
            raise DeliveryError(msg, channel=message.channel.value, retryable=False)
        try:
            to = PhoneNumber.parse(message.recipient, field="recipient")
        except ValidationError as exc:
            raise DeliveryError(f"not a phone number: {exc}", channel=_CHANNEL) from None
        try:
            check_message_length(Channel.SMS, message.body)
        except ValidationError as exc:
            raise DeliveryError(str(exc), channel=_CHANNEL, retryable=False) from None
        return self.sender.send_sms(
            to,
            message.body,
            reference=str(message.communication_id),
            communication_id=message.communication_id,
        )

    def close(self) -> None:
        """Close the sender's HTTP client if it created one."""
        self.sender.close()


# --------------------------------------------------------------------------- status callbacks


@attrs.frozen
class TwilioStatusReport:
    """What a verified Twilio status callback says about one message.

    ``status`` is the communication status it stands for (``None`` for a
    status that means nothing to the log, such as ``receiving``);
    ``twilio_status`` is Twilio's own word (``queued``, ``sent``,
    ``delivered``, ``undelivered``, ``failed``, ...); ``reason`` says why an
    undelivered or failed message failed (``undelivered (30003)``);
    ``communication_id`` is the logged message the callback URL names (its
    ``communication_id`` query parameter, which :class:`TwilioNotifier` adds),
    ``None`` when it names none: pass it on to
    :meth:`~bookingcore.services.CommunicationService.record_callback`.

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       ``communication_id``.
    """

    message_sid: str
    twilio_status: str
    status: CommunicationStatus | None
    reason: str | None = None
    communication_id: CommunicationId | None = None


def read_twilio_status_callback(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> TwilioStatusReport:
    """Check a status callback's ``X-Twilio-Signature`` and read what it reports.

    Pass the full URL Twilio called (the message's ``StatusCallback``, its
    query included), the form parameters of the POST, and the header. Then move
    the communication forward with what it returns::

        report = read_twilio_status_callback(token, url, form, headers.get("X-Twilio-Signature"))
        if report.status is not None:
            core.communications.record_callback(
                report.message_sid, report.status,
                principal=Principal.webhook("twilio"), reason=report.reason,
                communication_id=report.communication_id,
            )

    The log only moves forward: a late ``sent`` after ``delivered`` changes
    nothing, and ``failed`` after ``delivered`` is ignored.

    The signature is checked first; only then is anything read, the URL's
    ``communication_id`` included (the signature covers it).

    Raises:
        AuthenticationError: the signature is missing or does not match.
        ValidationError: on ``MessageSid`` or ``MessageStatus`` when missing; on
            ``communication_id`` when the URL's is not a communication id.

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       The report's ``communication_id``, from the URL's query.
    """
    if not verify_twilio_signature(auth_token, url, params, signature):
        msg = "the X-Twilio-Signature header does not match this request"
        raise AuthenticationError(msg, field="signature")
    sid = params.get("MessageSid") or params.get("SmsSid")
    raw = params.get("MessageStatus") or params.get("SmsStatus")
    if not sid:
        raise ValidationError.single("MessageSid", "is missing", "required")
    if not raw:
        raise ValidationError.single("MessageStatus", "is missing", "required")
    status = twilio_status(raw)
    reason = None
    if status is CommunicationStatus.FAILED:
        code = params.get("ErrorCode")
        detail = params.get("ErrorMessage")
        reason = (
            raw.strip().lower() + (f" ({code})" if code else "") + (f": {detail}" if detail else "")
        )
    communication_id = _callback_communication(url)
    return TwilioStatusReport(sid, raw.strip().lower(), status, reason, communication_id)
