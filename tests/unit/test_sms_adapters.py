"""The SMS senders: the console sender for development, and the Twilio sender tested
against a local HTTP server that answers the way Twilio's Messages API does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs
from uuid import UUID

import httpx
import pytest

from bookingcore.domain.communications import CommunicationStatus
from bookingcore.domain.values import PhoneNumber
from bookingcore.errors import AuthenticationError, DeliveryError, ValidationError
from bookingcore.ports.messaging import SendReceipt
from bookingcore.ports.security import SmsSender
from bookingcore_adapters.sms import (
    ConsoleSmsSender,
    TwilioSmsSender,
    read_twilio_status_callback,
    twilio_status,
    verify_twilio_signature,
)

ACCOUNT = "AC0123456789abcdef0123456789abcdef"
SLOW_ACCOUNT = "ACslowslowslowslowslowslowslowslow"
TOKEN = "auth-token-that-must-never-leak"
FROM = "+15005550006"
SERVICE = "MG0123456789abcdef0123456789abcdef"

OK = PhoneNumber("+919876543210")
INVALID_TO = PhoneNumber("+919876543211")
UNSUBSCRIBED = PhoneNumber("+919876543212")
REGION_OFF = PhoneNumber("+919876543213")
NOT_MOBILE = PhoneNumber("+919876543214")
RATE_LIMITED = PhoneNumber("+919876543215")
UNAVAILABLE = PhoneNumber("+919876543216")
SERVER_ERROR = PhoneNumber("+919876543217")
FAILED_AT_ONCE = PhoneNumber("+919876543218")
NOT_JSON = PhoneNumber("+919876543219")

#: ``To`` numbers the fake answers with a Twilio error: (HTTP status, code, message).
TWILIO_ERRORS = {
    INVALID_TO.e164: (400, 21211, "The 'To' number is not a valid phone number."),
    UNSUBSCRIBED.e164: (400, 21610, "Attempt to send to unsubscribed recipient"),
    REGION_OFF.e164: (400, 21408, "Permission to send an SMS has not been enabled"),
    NOT_MOBILE.e164: (400, 21614, "'To' number is not a valid mobile number"),
    RATE_LIMITED.e164: (429, 20429, "Too Many Requests"),
    SERVER_ERROR.e164: (500, 20500, "Internal Server Error"),
}


class FakeTwilio(BaseHTTPRequestHandler):
    """Answers ``POST /2010-04-01/Accounts/<sid>/Messages.json`` like Twilio."""

    server: TwilioServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def _answer(self, status: int, document: dict[str, Any] | None, raw: bytes = b"") -> None:
        payload = json.dumps(document).encode() if document is not None else raw
        self.send_response(status)
        self.send_header(
            "Content-Type", "application/json" if document is not None else "text/html"
        )
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, code: int, message: str) -> None:
        more_info = f"https://www.twilio.com/docs/errors/{code}"
        document = {"code": code, "message": message, "more_info": more_info, "status": status}
        self._answer(status, document)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length).decode()
        form = {name: values[0] for name, values in parse_qs(raw, strict_parsing=True).items()}
        self.server.requests.append(
            {"path": self.path, "headers": dict(self.headers.items()), "form": form}
        )
        account = self.path.removeprefix("/2010-04-01/Accounts/").removesuffix("/Messages.json")
        if account not in {ACCOUNT, SLOW_ACCOUNT}:
            self._error(404, 20404, "The requested resource was not found")
            return
        expected_auth = base64.b64encode(f"{account}:{TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {expected_auth}":
            self._error(401, 20003, "Authenticate")
            return
        if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            self._error(400, 20001, "unexpected content type")
            return
        if account == SLOW_ACCOUNT:
            self.server.release.wait(5)
        to = form.get("To", "")
        if "Body" not in form or not to or ("From" in form) == ("MessagingServiceSid" in form):
            self._error(400, 21604, "A 'To', 'Body' and one sender are required")
            return
        if to in TWILIO_ERRORS:
            self._error(*TWILIO_ERRORS[to])
            return
        if to == UNAVAILABLE.e164:
            self._answer(503, None, b"<html>Service Unavailable</html>")
            return
        if to == NOT_JSON.e164:
            self._answer(200, None, b"<html>Welcome to the hotel wifi</html>")
            return
        sid = f"SM{len(self.server.requests):032x}"
        failed = to == FAILED_AT_ONCE.e164
        self._answer(
            201,
            {
                "sid": sid,
                "account_sid": account,
                "to": to,
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "body": form["Body"],
                "status": "failed" if failed else "accepted" if "From" not in form else "queued",
                "error_code": 30008 if failed else None,
                "error_message": "Unknown error" if failed else None,
            },
        )


class TwilioServer(ThreadingHTTPServer):
    """A local Twilio that records every request; ``server_close`` joins its handlers."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeTwilio)
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out has hung up; that is the point of the slow path."""

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    server = TwilioServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def sms(twilio: TwilioServer) -> Iterator[TwilioSmsSender]:
    with TwilioSmsSender(ACCOUNT, TOKEN, FROM, base_url=twilio.base_url, timeout=2.0) as sender:
        yield sender


class TestConsoleSmsSender:
    def test_logs_keeps_and_prints_each_text(self, caplog: pytest.LogCaptureFixture) -> None:
        stream = io.StringIO()
        sender = ConsoleSmsSender(stream=stream)
        with caplog.at_level(logging.INFO, logger="bookingcore.sms"):
            first = sender.send_sms(OK, "Your code is 123456", reference="otp-1")
            second = sender.send_sms(INVALID_TO, "See you at base camp")
        assert first == SendReceipt(
            provider_message_id="console-1", status=CommunicationStatus.SENT
        )
        assert second.provider_message_id == "console-2"
        assert sender.sent == [
            (OK, "Your code is 123456", "otp-1"),
            (INVALID_TO, "See you at base camp", None),
        ]
        assert [r.name for r in caplog.records] == ["bookingcore.sms", "bookingcore.sms"]
        assert "+919876543210" in caplog.records[0].getMessage()
        assert "Your code is 123456" in caplog.records[0].getMessage()
        assert stream.getvalue().splitlines() == [
            "SMS to +919876543210 [otp-1]: Your code is 123456",
            "SMS to +919876543211: See you at base camp",
        ]

    def test_is_an_sms_sender(self) -> None:
        sender: SmsSender = ConsoleSmsSender()
        assert sender.send_sms(OK, "hi").provider_message_id == "console-1"


class TestTwilioSend:
    def test_posts_twilios_form_with_basic_auth_and_returns_the_sid(
        self, twilio: TwilioServer, sms: TwilioSmsSender
    ) -> None:
        receipt = sms.send_sms(OK, "Your code is 123456 ✓", reference="otp-42")
        assert receipt == SendReceipt(
            provider_message_id=f"SM{1:032x}", status=CommunicationStatus.SENT
        )
        (request,) = twilio.requests
        assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
        assert request["form"] == {
            "To": "+919876543210",
            "From": FROM,
            "Body": "Your code is 123456 ✓",
        }
        assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        assert not any("idempot" in name.lower() for name in request["headers"])

    def test_a_messaging_service_and_status_callback_are_sent_when_configured(
        self, twilio: TwilioServer
    ) -> None:
        callback = "https://example.com/hooks/twilio/status"
        with TwilioSmsSender(
            ACCOUNT,
            TOKEN,
            messaging_service_sid=SERVICE,
            base_url=twilio.base_url + "/",
            status_callback=callback,
        ) as sender:
            receipt = sender.send_sms(OK, "Booking confirmed")
        assert receipt.status is CommunicationStatus.SENT
        assert twilio.requests[0]["form"] == {
            "To": "+919876543210",
            "MessagingServiceSid": SERVICE,
            "Body": "Booking confirmed",
            "StatusCallback": callback,
        }

    @pytest.mark.parametrize(
        ("configured", "called"),
        [
            ("https://example.com/hooks/twilio", "https://example.com/hooks/twilio?{p}"),
            (
                "https://example.com/hooks/twilio?tenant=7&x=a%20b",
                "https://example.com/hooks/twilio?tenant=7&x=a%20b&{p}",
            ),
            ("https://example.com/hooks/twilio?", "https://example.com/hooks/twilio?{p}"),
            ("https://example.com/hooks/twilio#top", "https://example.com/hooks/twilio?{p}#top"),
        ],
    )
    def test_the_status_callback_names_the_communication_after_the_query_it_has(
        self, twilio: TwilioServer, configured: str, called: str
    ) -> None:
        communication_id = UUID("12345678-1234-5678-1234-567812345678")
        with TwilioSmsSender(
            ACCOUNT, TOKEN, FROM, base_url=twilio.base_url, status_callback=configured
        ) as sender:
            sender.send_sms(OK, "Booking confirmed", communication_id=communication_id)
            sender.send_sms(OK, "Booking confirmed")  # no id: the URL as configured
        param = f"communication_id={communication_id}"
        assert [r["form"]["StatusCallback"] for r in twilio.requests] == [
            called.format(p=param),
            configured,
        ]

    def test_a_wrong_token_is_refused_by_the_server_and_not_retryable(
        self, twilio: TwilioServer
    ) -> None:
        with (
            TwilioSmsSender(ACCOUNT, "wrong", FROM, base_url=twilio.base_url) as sender,
            pytest.raises(DeliveryError) as caught,
        ):
            sender.send_sms(OK, "hi")
        assert caught.value.reason == "twilio 20003: Authenticate"
        assert caught.value.retryable is False

    @pytest.mark.parametrize(
        ("to", "code"),
        [(INVALID_TO, 21211), (UNSUBSCRIBED, 21610), (REGION_OFF, 21408), (NOT_MOBILE, 21614)],
    )
    def test_twilio_refusing_the_recipient_is_not_retryable(
        self, sms: TwilioSmsSender, to: PhoneNumber, code: int
    ) -> None:
        with pytest.raises(DeliveryError) as caught:
            sms.send_sms(to, "hi")
        _, _, message = TWILIO_ERRORS[to.e164]
        assert caught.value.reason == f"twilio {code}: {message}"
        assert caught.value.channel == "sms"
        assert caught.value.retryable is False

    @pytest.mark.parametrize(
        ("to", "reason"),
        [
            (RATE_LIMITED, "twilio 20429: Too Many Requests"),
            (SERVER_ERROR, "twilio 20500: Internal Server Error"),
            (UNAVAILABLE, "twilio http 503: Service Unavailable"),
        ],
    )
    def test_rate_limits_and_server_errors_are_retryable(
        self, sms: TwilioSmsSender, to: PhoneNumber, reason: str
    ) -> None:
        with pytest.raises(DeliveryError) as caught:
            sms.send_sms(to, "hi")
        assert caught.value.reason == reason
        assert caught.value.retryable is True

    def test_a_message_failed_at_once_is_a_delivery_error(self, sms: TwilioSmsSender) -> None:
        with pytest.raises(DeliveryError) as caught:
            sms.send_sms(FAILED_AT_ONCE, "hi")
        assert caught.value.reason.startswith("twilio 30008: Unknown error")
        assert caught.value.retryable is False
        # Twilio took it (its sid) and will report on it: the failure names it.
        assert caught.value.provider_message_id == f"SM{1:032x}"

    def test_a_success_without_a_sid_is_not_retried_blindly(self, sms: TwilioSmsSender) -> None:
        with pytest.raises(DeliveryError) as caught:
            sms.send_sms(NOT_JSON, "hi")
        assert "no message sid" in caught.value.reason
        assert caught.value.retryable is False

    def test_a_timeout_is_retryable(self, twilio: TwilioServer) -> None:
        with (
            TwilioSmsSender(
                SLOW_ACCOUNT, TOKEN, FROM, base_url=twilio.base_url, timeout=0.2
            ) as slow,
            pytest.raises(DeliveryError) as caught,
        ):
            slow.send_sms(OK, "hi")
        assert caught.value.retryable is True
        assert "ReadTimeout" in caught.value.reason
        assert len(twilio.requests) == 1

    def test_an_unreachable_gateway_is_retryable(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with (
            TwilioSmsSender(ACCOUNT, TOKEN, FROM, base_url=f"http://127.0.0.1:{port}") as sender,
            pytest.raises(DeliveryError) as caught,
        ):
            sender.send_sms(OK, "hi")
        assert caught.value.retryable is True
        assert caught.value.reason.startswith("twilio unreachable: ConnectError")

    def test_the_auth_token_never_shows_in_errors_logs_or_repr(
        self, twilio: TwilioServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        errors: list[DeliveryError] = []
        with TwilioSmsSender(ACCOUNT, TOKEN, FROM, base_url=twilio.base_url, timeout=2) as sender:
            sender.send_sms(OK, "hi", reference="booking-7")
            for to in (INVALID_TO, RATE_LIMITED, UNAVAILABLE):
                with pytest.raises(DeliveryError) as caught:
                    sender.send_sms(to, "hi", reference="booking-7")
                errors.append(caught.value)
            shown = [repr(sender), str(sender)]
        shown += [str(e) for e in errors] + [json.dumps(e.to_dict()) for e in errors]
        shown += [r.getMessage() for r in caplog.records]
        assert all(TOKEN not in text for text in shown)
        sms_logs = [r.getMessage() for r in caplog.records if r.name == "bookingcore.sms"]
        assert len(sms_logs) == 4
        assert all("booking-7" in line for line in sms_logs)
        assert all("+919876543210" not in line for line in sms_logs)  # numbers are masked

    def test_a_client_passed_in_is_used_and_left_open(self, twilio: TwilioServer) -> None:
        with httpx.Client(headers={"User-Agent": "my-host/1.0"}) as client:
            sender = TwilioSmsSender(ACCOUNT, TOKEN, FROM, base_url=twilio.base_url, client=client)
            sender.send_sms(OK, "hi")
            sender.close()
            assert not client.is_closed
            sender.send_sms(OK, "again")
        assert [r["headers"]["User-Agent"] for r in twilio.requests] == ["my-host/1.0"] * 2

    def test_the_client_it_created_is_closed_with_it(self, twilio: TwilioServer) -> None:
        with TwilioSmsSender(ACCOUNT, TOKEN, FROM, base_url=twilio.base_url) as sender:
            sender.send_sms(OK, "hi")
        with pytest.raises(RuntimeError, match="closed"):
            sender.send_sms(OK, "after close")

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({}, "from_number"),
            ({"from_number": FROM, "messaging_service_sid": SERVICE}, "from_number"),
            ({"from_number": FROM, "base_url": "api.twilio.com"}, "base_url"),
            ({"from_number": FROM, "timeout": 0}, "timeout"),
            ({"from_number": " "}, "from_number"),
            ({"messaging_service_sid": ""}, "messaging_service_sid"),
            ({"from_number": FROM, "status_callback": "/callbacks/twilio"}, "status_callback"),
            ({"from_number": FROM, "status_callback": "ftp://x.example/cb"}, "status_callback"),
        ],
    )
    def test_a_misconfigured_sender_is_refused(self, kwargs: dict[str, Any], field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            TwilioSmsSender(ACCOUNT, TOKEN, **kwargs)
        assert caught.value.fields == (field,)


class TestTwilioStatus:
    @pytest.mark.parametrize(
        ("twilio_value", "status"),
        [
            ("queued", CommunicationStatus.SENT),
            ("accepted", CommunicationStatus.SENT),
            ("sending", CommunicationStatus.SENT),
            ("sent", CommunicationStatus.SENT),
            ("delivered", CommunicationStatus.DELIVERED),
            ("read", CommunicationStatus.OPENED),
            ("undelivered", CommunicationStatus.FAILED),
            ("failed", CommunicationStatus.FAILED),
            ("received", None),
            ("something-new", None),
        ],
    )
    def test_maps_twilio_statuses(
        self, twilio_value: str, status: CommunicationStatus | None
    ) -> None:
        assert twilio_status(twilio_value) is status


def independent_signature(token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's documented algorithm, written out here without the module."""
    message = url
    for name in sorted(params):
        message += name + params[name]
    return base64.b64encode(
        hmac.new(token.encode(), message.encode(), hashlib.sha1).digest()
    ).decode()


class TestVerifyTwilioSignature:
    URL = "https://hooks.example.com/twilio/status?booking=b-1"
    PARAMS: ClassVar[dict[str, str]] = {
        "MessageSid": "SM0123",
        "MessageStatus": "delivered",
        "To": "+919876543210",
        "AccountSid": ACCOUNT,
        "Body": "Café at 7 ✓",
    }

    def test_twilios_documented_example(self) -> None:
        params = {
            "CallSid": "CA1234567890ABCDE",
            "Caller": "+12349013030",
            "Digits": "1234",
            "From": "+12349013030",
            "To": "+18005551212",
        }
        url = "https://mycompany.com/myapp.php?foo=1&bar=2"
        assert verify_twilio_signature("12345", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")

    def test_a_signature_computed_independently_verifies(self) -> None:
        signature = independent_signature(TOKEN, self.URL, self.PARAMS)
        assert verify_twilio_signature(TOKEN, self.URL, self.PARAMS, signature)

    def test_changed_params_url_or_token_fail(self) -> None:
        signature = independent_signature(TOKEN, self.URL, self.PARAMS)
        assert not verify_twilio_signature(
            TOKEN, self.URL, {**self.PARAMS, "MessageStatus": "failed"}, signature
        )
        assert not verify_twilio_signature(TOKEN, self.URL + "&x=1", self.PARAMS, signature)
        assert not verify_twilio_signature("other", self.URL, self.PARAMS, signature)

    @pytest.mark.parametrize("signature", [None, "", "garbage", "é✓"])
    def test_missing_or_junk_signatures_fail(self, signature: str | None) -> None:
        assert not verify_twilio_signature(TOKEN, self.URL, self.PARAMS, signature)

    def test_the_default_port_may_or_may_not_be_in_the_signed_url(self) -> None:
        with_port = "https://hooks.example.com:443/twilio/status?booking=b-1"
        signed_with_port = independent_signature(TOKEN, with_port, self.PARAMS)
        signed_without = independent_signature(TOKEN, self.URL, self.PARAMS)
        assert verify_twilio_signature(TOKEN, self.URL, self.PARAMS, signed_with_port)
        assert verify_twilio_signature(TOKEN, with_port, self.PARAMS, signed_without)
        other_port = "https://hooks.example.com:8443/twilio/status?booking=b-1"
        assert not verify_twilio_signature(TOKEN, other_port, self.PARAMS, signed_without)


class TestReadTwilioStatusCallback:
    ID = "12345678-1234-5678-1234-567812345678"
    URL = f"https://hooks.example.com/twilio/status?tenant=7&communication_id={ID}"
    PARAMS: ClassVar[dict[str, str]] = {"MessageSid": "SM0123", "MessageStatus": "delivered"}

    def test_gives_back_the_communication_id_of_the_signed_url(self) -> None:
        signature = independent_signature(TOKEN, self.URL, self.PARAMS)
        report = read_twilio_status_callback(TOKEN, self.URL, self.PARAMS, signature)
        assert (report.message_sid, report.status, report.communication_id) == (
            "SM0123",
            CommunicationStatus.DELIVERED,
            UUID(self.ID),
        )
        plain = "https://hooks.example.com/twilio/status?tenant=7"
        signed = independent_signature(TOKEN, plain, self.PARAMS)
        assert (
            read_twilio_status_callback(TOKEN, plain, self.PARAMS, signed).communication_id is None
        )

    def test_the_signature_is_checked_before_the_id_is_read(self) -> None:
        signed_without_id = independent_signature(
            TOKEN, "https://hooks.example.com/twilio/status?tenant=7", self.PARAMS
        )
        for url in (self.URL, "https://hooks.example.com/twilio/status?communication_id=junk"):
            with pytest.raises(AuthenticationError):
                read_twilio_status_callback(TOKEN, url, self.PARAMS, signed_without_id)
            with pytest.raises(AuthenticationError):
                read_twilio_status_callback(TOKEN, url, self.PARAMS, None)

    def test_a_signed_url_whose_id_is_no_uuid_is_refused(self) -> None:
        url = "https://hooks.example.com/twilio/status?communication_id=junk"
        signature = independent_signature(TOKEN, url, self.PARAMS)
        with pytest.raises(ValidationError) as caught:
            read_twilio_status_callback(TOKEN, url, self.PARAMS, signature)
        assert caught.value.errors[0].field == "communication_id"
