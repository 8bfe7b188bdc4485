"""Notifiers that reach people: SmtpNotifier against a local aiosmtpd server, TwilioNotifier
against a local server shaped like Twilio's Messages API, and Twilio status callbacks (their
X-Twilio-Signature checked) moving the communication's status forward only."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import hashlib
import hmac
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import attrs
import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from tests.adapters._fake_twilio import FakeTwilio, serve_twilio
from tests.integration._partner_webhooks import ADMIN

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    Principal,
    Settings,
    TravelerDetails,
)
from bookingcore.domain import Booking
from bookingcore.domain.communications import Channel, CommunicationStatus
from bookingcore.domain.values import PhoneNumber
from bookingcore.errors import AuthenticationError, DeliveryError, ValidationError
from bookingcore.ports.messaging import Notifier, OutgoingMessage, SendReceipt
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.email import SmtpNotifier
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.notifications import ChannelNotifier
from bookingcore_adapters.sms import (
    ConsoleSmsSender,
    TwilioNotifier,
    read_twilio_status_callback,
    verify_twilio_signature,
)

ACCOUNT = "AC" + "1" * 32
TOKEN = "twilio-auth-token"
CALLBACK = "https://bookings.example.com/callbacks/twilio?tenant=7"
TWILIO = Principal.webhook("twilio")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------- SMTP server


@attrs.define
class Mailbox:
    """What the local SMTP server accepted, and whom it refuses."""

    messages: list[Any] = attrs.Factory(list)
    logins: list[str] = attrs.Factory(list)
    #: the answer to QUIT (None: aiosmtpd's "221 Bye"), after ``quit_delay`` seconds
    quit_reply: str | None = None
    quit_delay: float = 0.0
    #: the answer to AUTH (None: check the login and password)
    login_reply: str | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.quit_delay)
        return self.quit_reply or "221 Bye"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        if self.login_reply is not None:
            return AuthResult(success=False, handled=False, message=self.login_reply)
        ok = (data.login, data.password) == (b"bookings", b"s3cret")
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)  # a refusal answers 535


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=box.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def _smtp(port: int, **options: Any) -> SmtpNotifier:
    values: dict[str, Any] = {
        "sender": "bookings@example.com",
        "username": "bookings",
        "password": "s3cret",
        "security": "none",
        "timeout": 5,
    }
    return SmtpNotifier("127.0.0.1", port, **(values | options))


# --------------------------------------------------------------------------- Twilio server


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with serve_twilio(ACCOUNT, TOKEN) as fake:
        yield fake


def _twilio_notifier(fake: FakeTwilio) -> TwilioNotifier:
    return TwilioNotifier(
        ACCOUNT, TOKEN, "+15005550006", base_url=fake.url, status_callback=CALLBACK, timeout=5
    )


def _signed(params: dict[str, str], url: str = CALLBACK, token: str = TOKEN) -> str:
    """Twilio's signature, computed here independently of the adapter."""
    data = url + "".join(key + params[key] for key in sorted(params))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# --------------------------------------------------------------------------- a booking to message


def _booked(
    notifier: Notifier, email: str | None = "asha@example.com"
) -> tuple[BookingCore, Booking]:
    clock = FixedClock()
    core = BookingCore(
        uow_factory=MemoryStore().unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN", business_name="Trails"),
        notifier=notifier,
        automations=False,
    )
    camp = core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
    slot = core.catalog.create_slot(
        location_id=camp.id,
        starts_at=clock.now() + timedelta(days=3),
        price_per_traveler=Money("1000", "INR"),
        capacity=10,
        principal=ADMIN,
    )
    customer = core.customers.register(
        "+919876543210", name="Asha", email=email, principal=ADMIN
    ).customer
    booking = core.bookings.book(
        BookingRequest(
            slot.id,
            [NewTraveler(TravelerDetails("Asha"), is_primary=True)],
            customer_id=customer.id,
        ),
        principal=ADMIN,
    )
    return core, booking


class TestSmtpNotifier:
    def test_a_confirmation_email_reaches_the_smtp_server_and_is_logged_sent(
        self, mailbox: tuple[Mailbox, int]
    ) -> None:
        box, port = mailbox
        core, booking = _booked(_smtp(port))
        sent = core.communications.send(booking.id, "confirmation", principal=ADMIN)
        assert sent.status is CommunicationStatus.SENT
        assert sent.provider_message_id == f"<{sent.id}@bookingcore>"
        [envelope] = box.messages
        assert envelope.mail_from == "bookings@example.com"
        assert envelope.rcpt_tos == ["asha@example.com"]
        text = envelope.content.decode()
        assert f"Subject: Your booking {booking.reference} is confirmed" in text
        assert f"Message-ID: <{sent.id}@bookingcore>" in text
        assert "Hello Asha" in text
        assert box.logins == ["bookings"]

    def test_a_permanent_refusal_is_not_retryable_and_the_message_is_logged_failed(
        self, mailbox: tuple[Mailbox, int]
    ) -> None:
        _, port = mailbox
        core, booking = _booked(_smtp(port), email="nobody@example.com")
        with pytest.raises(DeliveryError) as caught:
            core.communications.send(booking.id, "confirmation", principal=ADMIN)
        assert not caught.value.retryable
        assert "550" in caught.value.reason
        [logged] = core.communications.for_booking(booking.id, principal=ADMIN)
        assert logged.status is CommunicationStatus.FAILED
        assert "no such mailbox" in (logged.failed_reason or "")

    def test_a_temporary_refusal_is_retryable(self, mailbox: tuple[Mailbox, int]) -> None:
        _, port = mailbox
        message = OutgoingMessage(uuid4(), Channel.EMAIL, "busy@example.com", "hi", "Hi")  # type: ignore[arg-type]
        with pytest.raises(DeliveryError) as caught:
            _smtp(port).send(message)
        assert caught.value.retryable
        assert "451" in caught.value.reason

    def test_non_ascii_names_subjects_and_text_arrive_intact_and_7_bit_safe(
        self, mailbox: tuple[Mailbox, int]
    ) -> None:
        box, port = mailbox
        notifier = _smtp(port, sender="Tréks Ünïcode <bookings@example.com>")
        subject = "Réservation confirmée — नमस्ते"
        body = "Hello Åsa,\nnamaste नमस्ते, see you at the café.\n"
        message = OutgoingMessage(uuid4(), Channel.EMAIL, "asha@example.com", body, subject)  # type: ignore[arg-type]
        notifier.send(message)
        [envelope] = box.messages
        # 8-bit text only with BODY=8BITMIME declared (RFC 6152); smtplib declares none.
        assert envelope.original_content.isascii() or "BODY=8BITMIME" in envelope.mail_options
        assert envelope.mail_from == "bookings@example.com"
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert str(parsed["From"]) == "Tréks Ünïcode <bookings@example.com>"
        assert str(parsed["Subject"]) == subject
        assert parsed.get_content().replace("\r\n", "\n") == body  # CRLF on the wire

    def test_an_internationalised_domain_goes_as_idna_to_a_server_without_smtputf8(
        self,
    ) -> None:
        """RFC 5321 wants ASCII domains unless the server offers SMTPUTF8: a mailbox at
        an internationalised domain (stored as the customer typed it) is addressed by
        the domain's IDNA form, which every server takes."""
        box = Mailbox()
        port = _free_port()
        controller = Controller(
            box,
            hostname="127.0.0.1",
            port=port,
            authenticator=box.authenticate,
            auth_require_tls=False,
            enable_SMTPUTF8=False,
        )
        controller.start()
        try:
            message = OutgoingMessage(uuid4(), Channel.EMAIL, "asha@bücher.example", "hi", "Hi")  # type: ignore[arg-type]
            _smtp(port, sender="Trails <bookings@bücher.example>").send(message)
        finally:
            controller.stop()
        [envelope] = box.messages
        assert envelope.rcpt_tos == ["asha@xn--bcher-kva.example"]
        assert envelope.mail_from == "bookings@xn--bcher-kva.example"
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert str(parsed["To"]) == "asha@xn--bcher-kva.example"

    def test_a_message_the_server_accepted_is_sent_whatever_it_answers_to_quit(
        self, mailbox: tuple[Mailbox, int]
    ) -> None:
        box, port = mailbox
        box.quit_reply = "421 4.3.2 shutting down"
        message = OutgoingMessage(uuid4(), Channel.EMAIL, "asha@example.com", "hi", "Hi")  # type: ignore[arg-type]
        receipt = _smtp(port).send(message)
        assert receipt.status is CommunicationStatus.SENT
        box.quit_reply, box.quit_delay = None, 3.0  # silent past the timeout
        receipt = _smtp(port, timeout=1).send(message)
        assert receipt.status is CommunicationStatus.SENT
        assert len(box.messages) == 2

    def test_a_refusal_stands_whatever_the_server_answers_to_quit(
        self, mailbox: tuple[Mailbox, int]
    ) -> None:
        box, port = mailbox
        box.quit_delay = 3.0
        message = OutgoingMessage(uuid4(), Channel.EMAIL, "nobody@example.com", "hi", "Hi")  # type: ignore[arg-type]
        with pytest.raises(DeliveryError) as caught:
            _smtp(port, timeout=1).send(message)
        assert (caught.value.retryable, "550" in caught.value.reason) == (False, True)

    def test_a_temporary_login_failure_is_retryable_a_wrong_password_is_not(
        self, mailbox: tuple[Mailbox, int]
    ) -> None:
        box, port = mailbox
        message = OutgoingMessage(uuid4(), Channel.EMAIL, "asha@example.com", "hi", "Hi")  # type: ignore[arg-type]
        with pytest.raises(DeliveryError) as wrong:
            _smtp(port, password="wrong").send(message)
        assert (wrong.value.retryable, "535" in wrong.value.reason) == (False, True)
        assert "wrong" not in wrong.value.reason
        box.login_reply = "454 4.7.0 Temporary authentication failure"
        with pytest.raises(DeliveryError) as temporary:
            _smtp(port).send(message)
        assert (temporary.value.retryable, "454" in temporary.value.reason) == (True, True)
        assert box.messages == []

    def test_a_server_offering_no_login_smtplib_knows_is_not_retryable(self) -> None:
        class OAuthOnly(Mailbox):
            async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
                return AuthResult(success=False, handled=False)

        port = _free_port()
        controller = Controller(
            OAuthOnly(),
            hostname="127.0.0.1",
            port=port,
            auth_require_tls=False,
            auth_exclude_mechanism=["LOGIN", "PLAIN"],
        )
        controller.start()
        try:
            message = OutgoingMessage(uuid4(), Channel.EMAIL, "asha@example.com", "hi", "Hi")  # type: ignore[arg-type]
            with pytest.raises(DeliveryError) as caught:
                _smtp(port).send(message)
        finally:
            controller.stop()
        assert not caught.value.retryable
        assert caught.value.reason.startswith("login impossible")

    @pytest.mark.parametrize(
        ("options", "field"),
        [
            ({"sender": "bookings"}, "sender"),
            ({"sender": "bookings@"}, "sender"),
            ({"sender": "a@example.com, b@example.com"}, "sender"),
            ({"reply_to": "desk at example.com"}, "reply_to"),
        ],
    )
    def test_a_sender_or_reply_to_that_is_not_one_address_is_refused_naming_it(
        self, options: dict[str, str], field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _smtp(_free_port(), **options)
        assert [(e.field, e.code) for e in caught.value.errors] == [(field, "invalid_email")]
        assert _smtp(
            _free_port(), sender="Tréks <bookings@example.com>", reply_to="desk@example.com"
        )

    @pytest.mark.parametrize("security", ["starttls", "ssl"])
    def test_a_message_goes_over_tls_and_the_login_only_after_it(
        self, tls_files: tuple[str, str], security: str
    ) -> None:
        cert_file, key_file = tls_files
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert_file, key_file)
        box = Mailbox()
        port = _free_port()
        tls: dict[str, Any] = (
            {"tls_context": server_tls, "require_starttls": True}
            if security == "starttls"
            # aiosmtpd does not count implicit TLS as TLS for AUTH: allow it there.
            else {"ssl_context": server_tls, "auth_require_tls": False}
        )
        controller = Controller(
            box, hostname="127.0.0.1", port=port, authenticator=box.authenticate, **tls
        )
        controller.start()
        try:
            message = OutgoingMessage(uuid4(), Channel.EMAIL, "asha@example.com", "hi", "Hi")  # type: ignore[arg-type]
            trusting = ssl.create_default_context(cafile=cert_file)
            receipt = _smtp(port, security=security, ssl_context=trusting).send(message)
            assert receipt.status is CommunicationStatus.SENT
            assert (box.logins, len(box.messages)) == (["bookings"], 1)
            # Without the certificate's trust the handshake fails: nothing sent, no login.
            with pytest.raises(DeliveryError):
                _smtp(port, security=security).send(message)
            assert (box.logins, len(box.messages)) == (["bookings"], 1)
        finally:
            controller.stop()

    def test_starttls_asked_of_a_server_without_it_is_refused_not_retryable(
        self, mailbox: tuple[Mailbox, int]
    ) -> None:
        box, port = mailbox
        message = OutgoingMessage(uuid4(), Channel.EMAIL, "asha@example.com", "hi", "Hi")  # type: ignore[arg-type]
        with pytest.raises(DeliveryError) as caught:
            _smtp(port, security="starttls").send(message)
        assert not caught.value.retryable
        assert "STARTTLS" in caught.value.reason
        assert (box.logins, box.messages) == ([], [])  # no password in clear

    def test_a_server_that_never_answers_times_out_retryable(self) -> None:
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            port = int(silent.getsockname()[1])
            message = OutgoingMessage(uuid4(), Channel.EMAIL, "asha@example.com", "hi", "Hi")  # type: ignore[arg-type]
            started = time.monotonic()
            with pytest.raises(DeliveryError) as caught:
                _smtp(port, timeout=0.5).send(message)
            assert time.monotonic() - started < 3
        assert caught.value.retryable
        assert caught.value.reason.startswith("smtp unreachable")

    def test_an_unreachable_server_is_retryable(self) -> None:
        message = OutgoingMessage(uuid4(), Channel.EMAIL, "asha@example.com", "hi", "Hi")  # type: ignore[arg-type]
        with pytest.raises(DeliveryError) as caught:
            _smtp(_free_port()).send(message)
        assert caught.value.retryable
        assert caught.value.reason.startswith("smtp unreachable")

    def test_an_sms_is_refused_without_connecting(self) -> None:
        message = OutgoingMessage(uuid4(), Channel.SMS, "+919876543210", "hi")  # type: ignore[arg-type]
        with pytest.raises(DeliveryError) as caught:
            _smtp(_free_port()).send(message)
        assert (caught.value.channel, caught.value.retryable) == ("sms", False)


class TestTwilioNotifier:
    def test_an_sms_is_posted_as_twilio_s_sdk_does_and_logged_with_its_sid(
        self, twilio: FakeTwilio
    ) -> None:
        core, booking = _booked(_twilio_notifier(twilio), email=None)
        sent = core.communications.send(booking.id, "confirmation", principal=ADMIN)
        assert (sent.channel, sent.status) == (Channel.SMS, CommunicationStatus.SENT)
        assert sent.provider_message_id == f"SM{1:032d}"
        [request] = twilio.requests
        assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
        assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        assert request["headers"]["Accept"] == "application/json"
        assert request["headers"]["Accept-Charset"] == "utf-8"
        assert request["form"] == {
            "To": "+919876543210",
            "From": "+15005550006",
            "Body": sent.content,
            "StatusCallback": f"{CALLBACK}&communication_id={sent.id}",
        }

    def test_a_refused_number_fails_the_message_without_retry(self, twilio: FakeTwilio) -> None:
        twilio.answers.append((400, {"code": 21211, "message": "Invalid 'To' Phone Number"}))
        core, booking = _booked(_twilio_notifier(twilio), email=None)
        with pytest.raises(DeliveryError) as caught:
            core.communications.send(booking.id, "reminder", principal=ADMIN)
        assert not caught.value.retryable
        [logged] = core.communications.for_booking(booking.id, principal=ADMIN)
        assert logged.failed_reason == "twilio 21211: Invalid 'To' Phone Number"

    def test_the_local_twilio_refuses_a_body_over_1600_characters_with_21617(
        self, twilio: FakeTwilio
    ) -> None:
        # What the refusals below spare the customer: Twilio's own answer.
        answer = httpx.post(
            f"{twilio.url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
            data={"To": "+919876543210", "From": "+15005550006", "Body": "🙂" * 801},
            auth=(ACCOUNT, TOKEN),
        )
        assert (answer.status_code, answer.json()["code"]) == (400, 21617)

    @pytest.mark.parametrize("body", ["x" * 1601, "🙂" * 801])
    def test_a_body_longer_than_twilio_takes_is_refused_before_the_request(
        self, twilio: FakeTwilio, body: str
    ) -> None:
        notifier = _twilio_notifier(twilio)
        with pytest.raises(ValidationError) as caught:
            notifier.sender.send_sms(PhoneNumber.parse("+919876543210"), body)
        assert [(e.field, e.code) for e in caught.value.errors] == [("body", "too_long")]
        message = OutgoingMessage(uuid4(), Channel.SMS, "+919876543210", body)  # type: ignore[arg-type]
        with pytest.raises(DeliveryError, match="body") as failed:
            notifier.send(message)
        assert not failed.value.retryable
        console = ConsoleSmsSender()
        with pytest.raises(ValidationError):
            console.send_sms(PhoneNumber.parse("+919876543210"), body)
        assert (twilio.requests, console.sent) == ([], [])

    def test_a_body_of_exactly_1600_characters_goes_out(self, twilio: FakeTwilio) -> None:
        sender = _twilio_notifier(twilio).sender
        for body in ("x" * 1600, "🙂" * 800):
            assert sender.send_sms(PhoneNumber.parse("+919876543210"), body).provider_message_id
        assert [r["form"]["Body"] for r in twilio.requests] == ["x" * 1600, "🙂" * 800]

    def test_a_message_too_long_for_sms_is_refused_before_it_is_logged_or_posted(
        self, twilio: FakeTwilio
    ) -> None:
        core, booking = _booked(_twilio_notifier(twilio), email=None)
        with pytest.raises(ValidationError) as caught:
            core.communications.send_text(
                booking.customer_id,
                "quotation",
                subject="Your quotation",
                body="Your trek, day by day: " + "x" * 1600,
                principal=ADMIN,
            )
        assert caught.value.fields == ("body",)
        assert core.communications.for_customer(booking.customer_id, principal=ADMIN) == []
        assert twilio.requests == []

    def test_a_channel_notifier_routes_email_and_sms(
        self, twilio: FakeTwilio, mailbox: tuple[Mailbox, int]
    ) -> None:
        box, port = mailbox
        notifier = ChannelNotifier({"email": _smtp(port), "sms": _twilio_notifier(twilio)})
        core, booking = _booked(notifier)
        core.communications.send(booking.id, "confirmation", principal=ADMIN, channel="sms")
        core.communications.send(booking.id, "reminder", principal=ADMIN, channel="email")
        assert (len(twilio.requests), len(box.messages)) == (1, 1)
        phone_call = OutgoingMessage(uuid4(), Channel.PHONE, "+919876543210", "hi")  # type: ignore[arg-type]
        with pytest.raises(DeliveryError, match="no notifier configured for phone"):
            notifier.send(phone_call)


class TestAutomaticMessagesOverTwilio:
    def test_an_answer_without_a_sid_is_not_sent_again_by_the_dispatcher(
        self, twilio: FakeTwilio
    ) -> None:
        """Twilio answered 201 without a sid: it may have queued the text, so the
        notifier says "do not retry" (a retry could text the customer twice). The
        event dispatcher retrying the automatic message must not send it again; the
        message stays logged failed for staff to look at."""
        clock = FixedClock()
        core = BookingCore(
            uow_factory=MemoryStore().unit_of_work,
            clock=clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN", business_name="Trails"),
            notifier=_twilio_notifier(twilio),
        )
        camp = core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        slot = core.catalog.create_slot(
            location_id=camp.id,
            starts_at=clock.now() + timedelta(days=3),
            price_per_traveler=Money("1000", "INR"),
            principal=ADMIN,
        )
        asha = core.customers.register("+919876543210", name="Asha", principal=ADMIN).customer
        booking = core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails("Asha"), is_primary=True)],
                customer_id=asha.id,
            ),
            principal=ADMIN,
        )
        twilio.answers.append((201, {"status": "queued"}))  # no sid
        core.bookings.transition(booking.id, "confirmed", principal=ADMIN)
        assert len(twilio.requests) == 1
        for _ in range(3):  # the dispatcher's retries come due
            clock.advance(hours=7)
            core.events.run_pending()
        assert len(twilio.requests) == 1
        [logged] = core.communications.for_booking(booking.id, principal=ADMIN)
        assert logged.status is CommunicationStatus.FAILED
        assert "no message sid" in (logged.failed_reason or "")


class TestTwilioStatusCallbacks:
    def test_twilio_s_documented_example_signature_verifies(self) -> None:
        params = {
            "CallSid": "CA1234567890ABCDE",
            "Caller": "+12349013030",
            "Digits": "1234",
            "From": "+12349013030",
            "To": "+18005551212",
        }
        url = "https://mycompany.com/myapp.php?foo=1&bar=2"
        assert verify_twilio_signature("12345", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
        assert not verify_twilio_signature("12346", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")

    def test_callbacks_move_the_message_forward_only(self, twilio: FakeTwilio) -> None:
        core, booking = _booked(_twilio_notifier(twilio), email=None)
        sent = core.communications.send(booking.id, "confirmation", principal=ADMIN)
        sid = sent.provider_message_id
        assert sid is not None

        def callback(status: str, **extra: str) -> CommunicationStatus:
            params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT, **extra}
            report = read_twilio_status_callback(TOKEN, CALLBACK, params, _signed(params))
            assert report.status is not None
            return core.communications.record_callback(
                report.message_sid, report.status, principal=TWILIO, reason=report.reason
            ).status

        assert callback("sent") is CommunicationStatus.SENT
        assert callback("delivered") is CommunicationStatus.DELIVERED
        assert callback("sent") is CommunicationStatus.DELIVERED  # late, out of order
        assert callback("undelivered", ErrorCode="30003") is CommunicationStatus.DELIVERED
        logged = core.communications.get(sent.id, principal=ADMIN)
        assert logged.delivered_at is not None

    def test_an_undelivered_message_fails_with_twilio_s_error_code(
        self, twilio: FakeTwilio
    ) -> None:
        core, booking = _booked(_twilio_notifier(twilio), email=None)
        sent = core.communications.send(booking.id, "confirmation", principal=ADMIN)
        params = {
            "MessageSid": str(sent.provider_message_id),
            "MessageStatus": "undelivered",
            "ErrorCode": "30003",
        }
        report = read_twilio_status_callback(TOKEN, CALLBACK, params, _signed(params))
        assert (report.status, report.reason) == (CommunicationStatus.FAILED, "undelivered (30003)")
        failed = core.communications.record_callback(
            report.message_sid, report.status, principal=TWILIO, reason=report.reason
        )
        assert (failed.status, failed.failed_reason) == (
            CommunicationStatus.FAILED,
            "undelivered (30003)",
        )

    def test_a_message_sent_again_after_twilio_failed_it_takes_the_new_sid(
        self, twilio: FakeTwilio
    ) -> None:
        core, booking = _booked(_twilio_notifier(twilio), email=None)

        def send() -> str | None:
            return core.communications.send(
                booking.id, "confirmation", principal=ADMIN, idempotency_key="confirm-1"
            ).provider_message_id

        def callback(sid: str, status: str, **extra: str) -> CommunicationStatus:
            params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT, **extra}
            report = read_twilio_status_callback(TOKEN, CALLBACK, params, _signed(params))
            assert report.status is not None
            return core.communications.record_callback(
                report.message_sid, report.status, principal=TWILIO, reason=report.reason
            ).status

        first = send()
        assert first == f"SM{1:032d}"
        assert callback(first, "undelivered", ErrorCode="30003") is CommunicationStatus.FAILED
        second = send()  # the same record, sent again: Twilio gives the new send a new sid
        assert (second, len(twilio.requests)) == (f"SM{2:032d}", 2)
        assert callback(second, "delivered") is CommunicationStatus.DELIVERED

    def test_a_callback_before_twilio_s_answer_is_recorded_finds_the_message_by_its_url(
        self, twilio: FakeTwilio
    ) -> None:
        """Twilio took the message and its callback (delivered) comes before the
        sender records the 201 answer: the URL it calls names the message, which
        moves and takes the sid; the answer recorded next does not move it back."""
        outcomes: list[CommunicationStatus] = []

        class Racing(TwilioNotifier):
            def send(self, message: OutgoingMessage) -> SendReceipt:
                receipt = super().send(message)  # Twilio answered; not recorded yet
                url = twilio.requests[-1]["form"]["StatusCallback"]
                params = {"MessageSid": receipt.provider_message_id, "MessageStatus": "delivered"}
                report = read_twilio_status_callback(TOKEN, url, params, _signed(params, url))
                assert (report.status, report.communication_id) == (
                    CommunicationStatus.DELIVERED,
                    message.communication_id,
                )
                outcomes.append(
                    core.communications.record_callback(
                        report.message_sid,
                        report.status,
                        principal=TWILIO,
                        communication_id=report.communication_id,
                    ).status
                )
                return receipt

        notifier = Racing(
            ACCOUNT, TOKEN, "+15005550006", base_url=twilio.url, status_callback=CALLBACK
        )
        core, booking = _booked(notifier, email=None)
        sent = core.communications.send(booking.id, "confirmation", principal=ADMIN)
        assert outcomes == [CommunicationStatus.DELIVERED]
        assert (sent.status, sent.provider_message_id) == (
            CommunicationStatus.DELIVERED,
            f"SM{1:032d}",
        )

    def test_a_forged_callback_naming_a_message_is_refused(self, twilio: FakeTwilio) -> None:
        core, booking = _booked(_twilio_notifier(twilio), email=None)
        sent = core.communications.send(booking.id, "confirmation", principal=ADMIN)
        url = f"{CALLBACK}&communication_id={sent.id}"
        params = {"MessageSid": "SMforged", "MessageStatus": "failed"}
        with pytest.raises(AuthenticationError):
            read_twilio_status_callback(TOKEN, url, params, _signed(params, url, token="other"))
        with pytest.raises(AuthenticationError):
            read_twilio_status_callback(TOKEN, url, params, _signed(params))  # signed elsewhere
        assert core.communications.get(sent.id, principal=ADMIN).status is (
            CommunicationStatus.SENT
        )

    def test_a_forged_or_unsigned_callback_is_refused(self) -> None:
        params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
        with pytest.raises(AuthenticationError):
            read_twilio_status_callback(TOKEN, CALLBACK, params, _signed(params, token="other"))
        with pytest.raises(AuthenticationError):
            read_twilio_status_callback(TOKEN, CALLBACK, params, None)
        tampered = {**params, "MessageStatus": "failed"}
        with pytest.raises(AuthenticationError):
            read_twilio_status_callback(TOKEN, CALLBACK, tampered, _signed(params))
