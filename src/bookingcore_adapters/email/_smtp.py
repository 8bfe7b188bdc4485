"""Email through an SMTP server, with :mod:`smtplib`.

.. versionadded:: 0.2
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses
from typing import Literal

import email_validator

from bookingcore.domain.communications import Channel, CommunicationStatus
from bookingcore.domain.values import EmailAddress
from bookingcore.errors import DeliveryError, ValidationError
from bookingcore.ports.messaging import OutgoingMessage, SendReceipt

__all__ = ["SmtpNotifier", "check_address"]

_CHANNEL = "email"
_MAX_REASON = 300

Security = Literal["starttls", "ssl", "none"]


class SmtpNotifier:
    """Sends email messages through an SMTP server, one connection per message.

    Each message gets the ``Message-ID`` ``<communication id@message_id_domain>``,
    returned as its provider message id: the same communication sent again
    carries the same id, so mail systems that deduplicate by it drop the copy.

    Failures raise :class:`~bookingcore.errors.DeliveryError` with the SMTP
    reply as the reason. Temporary refusals (4xx replies), timeouts and
    unreachable or disconnecting servers are retryable; permanent refusals
    (5xx: an unknown mailbox, a refused sender), failed authentication, a
    server without STARTTLS when it is required, and messages that are not
    email are not. The password never appears in a reason or a log.

    Args:
        host: the SMTP server.
        port: its port (587 for STARTTLS, 465 for SMTPS, 25 without TLS).
        sender: the ``From`` address.
        username: the login, when the server wants one.
        password: its password.
        security: ``"starttls"`` (the default) upgrades the connection before
            logging in; ``"ssl"`` connects with TLS from the start; ``"none"``
            sends in clear (local relays and tests only).
        timeout: seconds to wait for the server, per operation.
        reply_to: a ``Reply-To`` address, if replies go elsewhere.
        message_id_domain: the right-hand side of each ``Message-ID``.
        ssl_context: the TLS context (the system's defaults otherwise).
        logger: the logger to use instead of ``bookingcore.email``.

    Raises:
        ValidationError: on ``host`` or ``sender`` when empty, on ``sender`` or
            ``reply_to`` when not one valid email address (with or without a
            display name), on ``security`` when unknown, on ``timeout`` when not
            positive, on ``password`` when given without ``username``.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        security: Security = "starttls",
        timeout: float = 10.0,
        reply_to: str | None = None,
        message_id_domain: str = "bookingcore",
        ssl_context: ssl.SSLContext | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not host.strip():
            raise ValidationError.single("host", "is required", "required")
        if not sender.strip():
            raise ValidationError.single("sender", "is required", "required")
        sender_address = check_address(sender, "sender")
        reply_address = None if reply_to is None else check_address(reply_to, "reply_to")
        if security not in ("starttls", "ssl", "none"):
            msg = "must be 'starttls', 'ssl' or 'none'"
            raise ValidationError.single("security", msg, "invalid_choice")
        if not timeout > 0:
            raise ValidationError.single("timeout", "must be a positive number of seconds")
        if password is not None and username is None:
            raise ValidationError.single("password", "needs a username", "invalid")
        self._host = host.strip()
        self._port = port
        self._sender = sender.strip()
        self._from = sender_address
        self._reply_address = reply_address
        self._username = username
        self._password = password
        self._security = security
        self._timeout = timeout
        self._domain = message_id_domain
        self._context = ssl_context
        self._log = logger or logging.getLogger("bookingcore.email")

    def __repr__(self) -> str:
        return f"SmtpNotifier(host={self._host!r}, port={self._port}, sender={self._sender!r})"

    def send(self, message: OutgoingMessage) -> SendReceipt:
        """Send ``message`` by email.

        Returns:
            The ``Message-ID`` as the provider message id; status ``sent``
            (the server accepted it for delivery).

        Raises:
            DeliveryError: the server refused the message or could not be
                reached; ``retryable`` tells whether trying later may help.
        """
        if message.channel is not Channel.EMAIL:
            msg = f"SmtpNotifier sends email, not {message.channel.value}"
            raise DeliveryError(msg, channel=message.channel.value, retryable=False)
        message_id = f"<{message.communication_id}@{self._domain}>"
        try:
            email = self._compose(message, message_id)
        except (ValueError, TypeError) as exc:
            # A header with a line break or an address the email package refuses.
            raise DeliveryError(
                f"not a valid email: {exc}"[:_MAX_REASON], channel=_CHANNEL
            ) from None
        try:
            self._deliver(email)
        except DeliveryError as exc:
            self._log.warning(
                "email %s to %s failed: %s", message_id, message.recipient, exc.reason
            )
            raise
        self._log.info("email %s to %s accepted by %s", message_id, message.recipient, self._host)
        return SendReceipt(provider_message_id=message_id, status=CommunicationStatus.SENT)

    def _compose(self, message: OutgoingMessage, message_id: str) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self._from
        email["To"] = _ascii_domain(message.recipient)
        email["Subject"] = message.subject or ""
        email["Message-ID"] = message_id
        email["Date"] = formatdate(usegmt=True)
        if self._reply_address is not None:
            email["Reply-To"] = self._reply_address
        if message.body.isascii():
            email.set_content(message.body)
        else:
            # 7-bit safe: 8-bit text may only go to a server that announced 8BITMIME,
            # declared with BODY=8BITMIME (RFC 6152), which smtplib does not do.
            email.set_content(message.body, cte="quoted-printable")
        return email

    def _connect(self) -> smtplib.SMTP:
        if self._security == "ssl":
            context = self._context or ssl.create_default_context()
            return smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
        return smtplib.SMTP(self._host, self._port, timeout=self._timeout)

    def _deliver(self, email: EmailMessage) -> None:
        try:
            smtp = self._connect()
            try:
                if self._security == "starttls":
                    smtp.starttls(context=self._context or ssl.create_default_context())
                if self._username is not None:
                    self._login(smtp)
                smtp.send_message(email)
            finally:
                _quit(smtp)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            replies = "; ".join(
                f"{address}: {code} {_text(reply)}"
                for address, (code, reply) in exc.recipients.items()
            )
            retryable = all(400 <= code < 500 for code in codes)
            raise _error(f"recipient refused: {replies}", retryable) from None
        except smtplib.SMTPAuthenticationError as exc:
            # 535 (wrong credentials) is final; 454 (temporary failure) may work later.
            retryable = 400 <= exc.smtp_code < 500
            reason = f"login refused: {exc.smtp_code} {_text(exc.smtp_error)}"
            raise _error(reason, retryable) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise _error(f"the server does not support it: {exc}", False) from None
        except smtplib.SMTPResponseException as exc:
            retryable = 400 <= exc.smtp_code < 500
            raise _error(f"{exc.smtp_code} {_text(exc.smtp_error)}", retryable) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Disconnects, timeouts, refused connections, TLS handshakes: try again later.
            raise _error(f"smtp unreachable: {type(exc).__name__}: {exc}", True) from None

    def _login(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.login(self._username or "", self._password or "")
        except smtplib.SMTPException as exc:
            if type(exc) is smtplib.SMTPException:
                # No mechanism both sides know: waiting will not change the server's offer.
                raise _error(f"login impossible: {exc}", False) from None
            raise


def check_address(value: str, field: str) -> Address:
    """The one address ``value`` holds, bare or with a display name
    (``Trails <bookings@example.com>``), its domain in IDNA (:func:`_ascii_domain`).

    Anything else is refused: a typo would otherwise surface at the first send, or
    go out as an envelope sender the server reads otherwise."""
    found = getaddresses([value])
    try:
        if len(found) != 1 or not found[0][1]:
            raise ValidationError.single(field, "no address", "invalid_email")
        EmailAddress.parse(found[0][1], field=field)
        name, address = found[0]
        return Address(display_name=name, addr_spec=_ascii_domain(address))
    except (ValidationError, ValueError, HeaderParseError):
        msg = f"{value!r} is not one email address (bookings@example.com, or Name <...>)"
        raise ValidationError.single(field, msg, "invalid_email") from None


def _ascii_domain(address: str) -> str:
    """``address`` with an internationalised domain in its IDNA form
    (``asha@xn--bcher-kva.example``): RFC 5321 wants ASCII domains, so any server
    takes it, where the Unicode spelling needs one that offers SMTPUTF8. A local
    part that is not ASCII needs SMTPUTF8 anyway: such an address is left as it is
    (``smtplib`` asks for SMTPUTF8, and a server without it refuses the message)."""
    _, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        checked = email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError:
        return address
    return checked.ascii_email or address


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye and close. The message's fate was decided before QUIT: a server
    that answers it otherwise, hangs up or stays silent changes nothing (the message
    it accepted is on its way; the refusal it gave stands)."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _error(reason: str, retryable: bool) -> DeliveryError:
    return DeliveryError(reason[:_MAX_REASON], channel=_CHANNEL, retryable=retryable)
